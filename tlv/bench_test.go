package tlv

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/tlv/tlvwire"
)

// benchMsg is the chat message of the issue (benchmarks/tlv compares it with peers).
type benchMsg struct {
	UID     uint64            `tlv:"1"`
	Text    string            `tlv:"2"`
	Payload []byte            `tlv:"3"`
	IDs     []int64           `tlv:"4"`
	Inner   *vInner           `tlv:"5"`
	Items   []vInner          `tlv:"6"`
	Attrs   map[string]string `tlv:"7"`
}

type benchSmall struct {
	Name     string    `tlv:"1"`
	BirthDay time.Time `tlv:"2"`
	Phone    string    `tlv:"3"`
	Siblings int       `tlv:"4"`
	Spouse   bool      `tlv:"5"`
	Money    float64   `tlv:"6"`
}

func newBenchMsg() *benchMsg {
	p := make([]byte, 128)
	for i := range p {
		p[i] = byte(i * 7)
	}
	return &benchMsg{UID: 1234567890123, Text: "Meet at 北京站 at 9, bring the 文件 please. 好的 👍",
		Payload: p, IDs: []int64{1, -1, 300, -70000, 1 << 40, -(1 << 33), 42, 1<<31 - 1},
		Inner: &vInner{ID: 987654321, Name: "inner-record"},
		Items: []vInner{{1, "alice"}, {-2, "bob 小明"}, {1 << 35, "carol"}},
		Attrs: map[string]string{"lang": "zh-CN", "client": "ios/8.0.50", "trace": "a1b2c3d4e5f6"}}
}

func newBenchSmall() *benchSmall {
	return &benchSmall{Name: "abcdefghijklmnop", BirthDay: time.Date(2001, 3, 4, 5, 6, 7, 8, time.UTC),
		Phone: "0123456789", Siblings: 3, Spouse: true, Money: 0.123}
}

func newBenchLarge() *benchMsg {
	m := newBenchMsg()
	m.Payload = make([]byte, 64<<10)
	m.Items = make([]vInner, 1000)
	for i := range m.Items {
		m.Items[i] = vInner{ID: int64(i*7919) - 3000000, Name: "item-" + strings.Repeat("x", i%16)}
	}
	return m
}

func benchWorkloads() []struct {
	name string
	v    any
	newV func() any
} {
	return []struct {
		name string
		v    any
		newV func() any
	}{
		{"Msg", newBenchMsg(), func() any { return new(benchMsg) }},
		{"Small", newBenchSmall(), func() any { return new(benchSmall) }},
		{"Large", newBenchLarge(), func() any { return new(benchMsg) }},
	}
}

func BenchmarkMarshal(b *testing.B) {
	for _, w := range benchWorkloads() {
		b.Run(w.name, func(b *testing.B) {
			b.ReportAllocs()
			var n int
			for b.Loop() {
				out, err := Marshal(w.v)
				if err != nil {
					b.Fatal(err)
				}
				n = len(out)
			}
			b.ReportMetric(float64(n), "bytes")
		})
	}
}

func BenchmarkMarshalAppendReuse(b *testing.B) {
	for _, w := range benchWorkloads() {
		b.Run(w.name, func(b *testing.B) {
			b.ReportAllocs()
			buf, _ := Marshal(w.v)
			for b.Loop() {
				var err error
				if buf, err = MarshalAppend(buf[:0], w.v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	for _, w := range benchWorkloads() {
		b.Run(w.name, func(b *testing.B) {
			data, _ := Marshal(w.v)
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if err := Unmarshal(data, w.newV()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkUnmarshalStrict(b *testing.B) {
	data, _ := Marshal(newBenchMsg())
	o := DecodeOptions{Strict: true}
	b.ReportAllocs()
	for b.Loop() {
		if err := o.Unmarshal(data, new(benchMsg)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIter(b *testing.B) {
	data, _ := Marshal(newBenchMsg())
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		it := tlvwire.NewIter(data)
		for it.Next() {
		}
	}
}

func BenchmarkValid(b *testing.B) {
	data, _ := Marshal(newBenchLarge())
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if !Valid(data) {
			b.Fatal("invalid")
		}
	}
}

func BenchmarkGet(b *testing.B) {
	data, _ := Marshal(newBenchMsg())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Get(data, []uint32{5, 2}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncoder(b *testing.B) {
	enc := NewEncoder(io.Discard)
	m := newBenchMsg()
	b.ReportAllocs()
	for b.Loop() {
		if err := enc.Encode(m); err != nil {
			b.Fatal(err)
		}
	}
}
