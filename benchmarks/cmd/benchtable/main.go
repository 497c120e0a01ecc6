// Command benchtable renders `go test -bench` output as markdown tables for
// BENCHMARKS.md: one table per benchmark family (the name up to the first
// '/'), one row per sub-benchmark, one column per reported unit. When a
// benchmark appears several times (-count=N) the row shows the median.
//
//	go test -run='^$' -bench=. -count=5 ./tlv/ | go run ./cmd/benchtable
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

type row struct {
	name   string
	values map[string][]float64
}

type family struct {
	name  string
	rows  []*row
	units []string
}

func main() {
	if err := render(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

func render(r io.Reader, w io.Writer) error {
	families, meta, err := parse(r)
	if err != nil {
		return err
	}
	if len(meta) > 0 {
		fmt.Fprintf(w, "%s\n\n", strings.Join(meta, " · "))
	}
	for _, f := range families {
		fmt.Fprintf(w, "### %s\n\n| case |", f.name)
		for _, u := range f.units {
			fmt.Fprintf(w, " %s |", u)
		}
		fmt.Fprint(w, "\n|---|")
		for range f.units {
			fmt.Fprint(w, "---:|")
		}
		fmt.Fprintln(w)
		for _, r := range f.rows {
			fmt.Fprintf(w, "| %s |", r.name)
			for _, u := range f.units {
				vs := r.values[u]
				if len(vs) == 0 {
					fmt.Fprint(w, " |")
					continue
				}
				fmt.Fprintf(w, " %s |", format(median(vs)))
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w)
	}
	return nil
}

// parse reads benchmark lines: "BenchmarkX/y-2  N  v unit  v unit ...".
func parse(r io.Reader) ([]*family, []string, error) {
	var families []*family
	byName := map[string]*family{}
	rows := map[string]*row{}
	var meta []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for _, k := range []string{"goos:", "goarch:", "cpu:"} {
			if strings.HasPrefix(line, k) && !contains(meta, line) {
				meta = append(meta, line)
			}
		}
		fields := strings.Fields(line)
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(fields[1]); err != nil {
			continue
		}
		name := strings.TrimPrefix(fields[0], "Benchmark")
		if i := strings.LastIndex(name, "-"); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i] // drop the GOMAXPROCS suffix
			}
		}
		famName, sub, ok := strings.Cut(name, "/")
		if !ok {
			sub = name
		}
		f := byName[famName]
		if f == nil {
			f = &family{name: famName}
			byName[famName] = f
			families = append(families, f)
		}
		rw := rows[name]
		if rw == nil {
			rw = &row{name: sub, values: map[string][]float64{}}
			rows[name] = rw
			f.rows = append(f.rows, rw)
		}
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			u := fields[i+1]
			if !contains(f.units, u) {
				f.units = append(f.units, u)
			}
			rw.values[u] = append(rw.values[u], v)
		}
	}
	return families, meta, sc.Err()
}

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

func median(vs []float64) float64 {
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func format(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100 || v == float64(int64(v)):
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}
