package metrics

import (
	"bufio"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// Handler serves every metric in the Prometheus text exposition format
// 0.0.4. Histograms list the cumulative count at the upper bound of every
// bucket that has held an observation (the set only grows), then +Inf.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		bw := bufio.NewWriterSize(w, 32<<10)
		r.WriteText(bw)
		_ = bw.Flush()
	})
}

// WriteText writes the exposition to w (see Handler).
func (r *Registry) WriteText(w *bufio.Writer) {
	fams := append([]*family(nil), r.families()...)
	sort.Slice(fams, func(i, j int) bool { return fams[i].name < fams[j].name })
	var b []byte
	var bk bucketCounts
	for _, f := range fams {
		ss := sortedSeries(f)
		if len(ss) == 0 {
			continue
		}
		b = b[:0]
		if f.help != "" {
			b = append(b, "# HELP "...)
			b = append(b, f.name...)
			b = append(b, ' ')
			b = appendHelp(b, f.help)
			b = append(b, '\n')
		}
		b = append(b, "# TYPE "...)
		b = append(b, f.name...)
		b = append(b, ' ')
		b = append(b, f.kind.String()...)
		b = append(b, '\n')
		_, _ = w.Write(b)
		for _, s := range ss {
			b = b[:0]
			switch f.kind {
			case kindCounter:
				b = appendSample(b, f.name, "", f.labels, s.values, "", "")
				b = strconv.AppendUint(b, s.c.Value(), 10)
				b = append(b, '\n')
			case kindGauge:
				b = appendSample(b, f.name, "", f.labels, s.values, "", "")
				b = appendFloat(b, s.g.Value())
				b = append(b, '\n')
			case kindHistogram:
				bk.load(s.h)
				sum := s.h.Sum()
				var cum uint64
				if bk.zero > 0 {
					cum += bk.zero
					b = appendSample(b, f.name, "_bucket", f.labels, s.values, "le", "0")
					b = strconv.AppendUint(b, cum, 10)
					b = append(b, '\n')
				}
				for i, c := range bk.chunks {
					if c == nil {
						continue
					}
					for j, v := range c {
						if v == 0 {
							continue
						}
						cum += v
						le := strconv.FormatFloat(upperBounds[i<<chunkBits+j], 'g', -1, 64)
						b = appendSample(b, f.name, "_bucket", f.labels, s.values, "le", le)
						b = strconv.AppendUint(b, cum, 10)
						b = append(b, '\n')
					}
				}
				cum += bk.inf
				b = appendSample(b, f.name, "_bucket", f.labels, s.values, "le", "+Inf")
				b = strconv.AppendUint(b, cum, 10)
				b = append(b, '\n')
				b = appendSample(b, f.name, "_sum", f.labels, s.values, "", "")
				b = appendFloat(b, sum)
				b = append(b, '\n')
				b = appendSample(b, f.name, "_count", f.labels, s.values, "", "")
				b = strconv.AppendUint(b, cum, 10)
				b = append(b, '\n')
			}
			_, _ = w.Write(b)
		}
	}
}

func appendSample(b []byte, name, suffix string, labels, values []string, extra, extraVal string) []byte {
	b = append(b, name...)
	b = append(b, suffix...)
	if len(labels) == 0 && extra == "" {
		return append(b, ' ')
	}
	b = append(b, '{')
	for i, l := range labels {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, l...)
		b = append(b, `="`...)
		b = appendLabelValue(b, values[i])
		b = append(b, '"')
	}
	if extra != "" {
		if len(labels) > 0 {
			b = append(b, ',')
		}
		b = append(b, extra...)
		b = append(b, `="`...)
		b = append(b, extraVal...)
		b = append(b, '"')
	}
	return append(b, "} "...)
}

// appendLabelValue escapes \, " and newline as the text format requires.
func appendLabelValue(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			b = append(b, `\\`...)
		case '"':
			b = append(b, `\"`...)
		case '\n':
			b = append(b, `\n`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendHelp escapes \ and newline in HELP text.
func appendHelp(b []byte, v string) []byte {
	v = strings.ToValidUTF8(v, "\uFFFD")
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			b = append(b, `\\`...)
		case '\n':
			b = append(b, `\n`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}
