// Command experiment runs benchmarks/overload's load experiment in real time:
// workers sleep for their service time, so the run costs little CPU but its
// timing depends on the machine's scheduler (see the overload section of BENCHMARKS.md). The same
// experiment in virtual time, independent of machine load, is
// `go test -run TestExperiment -v ./overload/`.
//
//	go run ./overload/cmd/experiment          # full run, about 7 minutes
//	go run ./overload/cmd/experiment -quick   # < 60 s
//
// With -strict it exits 1 if Bulwark misses a target. On a shared, loaded
// machine real-time results vary from run to run, so CI gates on the
// virtual-time test instead.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/bulwark-go/bulwark/benchmarks/overload/experiment"
)

// loadavg returns /proc/loadavg's first three fields, or "n/a".
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "n/a"
	}
	return strings.Join(f[:3], " ")
}

func main() {
	quick := flag.Bool("quick", false, "short run for CI (< 60 s)")
	seed := flag.Uint64("seed", 1, "workload seed")
	only := flag.String("only", "", "comma-separated parts to run: table,m2,step (default all)")
	loadsFlag := flag.String("loads", "", "load multiples of capacity for the table (default 0.5,1,2,4)")
	strict := flag.Bool("strict", false, "exit 1 if Bulwark misses a target")
	polFlag := flag.String("policies", "", "policies for the table: bulwark,bulwark-q64,none,rate,gcl (default all)")
	flag.Parse()
	o := experiment.Options{Quick: *quick, Seed: *seed, Mode: "real time"}
	if *only != "" {
		o.Parts = strings.Split(*only, ",")
	}
	if *polFlag != "" {
		o.Policies = strings.Split(*polFlag, ",")
	}
	if *loadsFlag != "" {
		for _, f := range strings.Split(*loadsFlag, ",") {
			v, err := strconv.ParseFloat(f, 64)
			if err != nil || v <= 0 {
				fmt.Fprintln(os.Stderr, "bad -loads:", f)
				os.Exit(2)
			}
			o.Loads = append(o.Loads, v)
		}
	}
	experiment.Calibrate()
	fmt.Println("load average before:", loadavg())
	met := experiment.Run(o, os.Stdout)
	fmt.Println("load average after:", loadavg(), "(2 shared cores; above ~2 the scheduler delays workers)")
	if !met && *strict {
		os.Exit(1)
	}
}
