package quorumtest

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// step is one operation of a scripted history: the client calls it, and it
// completes before the next step is called unless open is set.
type scripted struct {
	client int
	in     Input
	out    Output
	how    string // "ok" (default), "unknown", "failed", "pending"
}

func get(c int, key string) Input        { return Input{Kind: KindGet, Key: key} }
func putIn(c int, key, val string) Input { return Input{Kind: KindPut, Key: key, Value: val} }
func found(val string) Output            { return Output{Value: val, Found: true} }
func record(h *History, steps []scripted) {
	for _, s := range steps {
		p := h.Call(s.client, s.in)
		switch s.how {
		case "unknown":
			p.Unknown()
		case "failed":
			p.Failed()
		case "pending":
		default:
			p.Ok(s.out)
		}
	}
}

func TestCheckScriptedHistories(t *testing.T) {
	del := Input{Kind: KindDelete, Key: "x"}
	cases := []struct {
		name  string
		steps []scripted
		want  porcupine.CheckResult
	}{
		{"empty", nil, porcupine.Ok},
		{"read your write", []scripted{
			{0, putIn(0, "x", "1"), Output{}, ""},
			{1, get(1, "x"), found("1"), ""},
		}, porcupine.Ok},
		{"missing key reads not found", []scripted{
			{0, get(0, "x"), Output{}, ""},
		}, porcupine.Ok},
		{"stale read after a completed write", []scripted{
			{0, putIn(0, "x", "1"), Output{}, ""},
			{0, putIn(0, "x", "2"), Output{}, ""},
			{1, get(1, "x"), found("1"), ""},
		}, porcupine.Illegal},
		{"delete then not found", []scripted{
			{0, putIn(0, "x", "1"), Output{}, ""},
			{0, del, Output{}, ""},
			{1, get(1, "x"), Output{}, ""},
		}, porcupine.Ok},
		{"deleted value comes back", []scripted{
			{0, putIn(0, "x", "1"), Output{}, ""},
			{0, del, Output{}, ""},
			{1, get(1, "x"), found("1"), ""},
		}, porcupine.Illegal},
		{"unknown write may have happened", []scripted{
			{0, putIn(0, "x", "1"), Output{}, "unknown"},
			{1, get(1, "x"), found("1"), ""},
		}, porcupine.Ok},
		{"unknown write may not have happened", []scripted{
			{0, putIn(0, "x", "1"), Output{}, "unknown"},
			{1, get(1, "x"), Output{}, ""},
		}, porcupine.Ok},
		{"unknown write seen then unseen", []scripted{
			{0, putIn(0, "x", "1"), Output{}, "unknown"},
			{1, get(1, "x"), found("1"), ""},
			{1, get(1, "x"), Output{}, ""},
		}, porcupine.Illegal},
		{"pending write counts as unknown", []scripted{
			{0, putIn(0, "x", "1"), Output{}, "pending"},
			{1, get(1, "x"), found("1"), ""},
		}, porcupine.Ok},
		{"failed write never happened", []scripted{
			{0, putIn(0, "x", "1"), Output{}, "failed"},
			{1, get(1, "x"), found("1"), ""},
		}, porcupine.Illegal},
		{"unknown read constrains nothing", []scripted{
			{0, putIn(0, "x", "1"), Output{}, ""},
			{1, get(1, "x"), Output{Unknown: true}, ""},
		}, porcupine.Ok},
		{"keys are independent", []scripted{
			{0, putIn(0, "x", "1"), Output{}, ""},
			{0, putIn(0, "y", "2"), Output{}, ""},
			{1, get(1, "x"), found("1"), ""},
			{1, get(1, "y"), found("2"), ""},
		}, porcupine.Ok},
		{"a read of another key's value", []scripted{
			{0, putIn(0, "y", "2"), Output{}, ""},
			{1, get(1, "x"), found("2"), ""},
		}, porcupine.Illegal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHistory(HistoryOptions{})
			record(h, tc.steps)
			assert.Equal(t, tc.want, Check(h.Operations(), 10*time.Second))
		})
	}
}

func TestConcurrentOperationsOverlap(t *testing.T) {
	// A write and a read that overlap may be ordered either way.
	h := NewHistory(HistoryOptions{})
	w := h.Call(0, putIn(0, "x", "1"))
	r := h.Call(1, get(1, "x"))
	r.Ok(Output{}) // read ordered before the write
	w.Ok(Output{})
	r2 := h.Call(1, get(1, "x"))
	r2.Ok(found("1"))
	assert.Equal(t, porcupine.Ok, Check(h.Operations(), 0))
}

func TestUnknownOperationsReturnAtInfinity(t *testing.T) {
	h := NewHistory(HistoryOptions{})
	record(h, []scripted{
		{0, putIn(0, "x", "1"), Output{}, "unknown"},
		{1, get(1, "x"), found("1"), ""},
		{2, putIn(2, "x", "2"), Output{}, "pending"},
		{3, putIn(3, "x", "3"), Output{}, "failed"},
	})
	ops := h.Operations()
	require.Len(t, ops, 3, "the failed put is dropped")
	last := ops[1].Return
	for _, i := range []int{0, 2} {
		assert.Greater(t, ops[i].Return, last, "op %d returns after every other event", i)
		assert.Equal(t, Output{Unknown: true}, ops[i].Output)
	}
	assert.Equal(t, 4, h.Len())
}

func TestPendingCompletesOnce(t *testing.T) {
	h := NewHistory(HistoryOptions{})
	p := h.Call(0, putIn(0, "x", "1"))
	p.Ok(Output{})
	p.Unknown()
	p.Failed()
	ops := h.Operations()
	require.Len(t, ops, 1)
	assert.Equal(t, Output{}, ops[0].Output)
	var nilPending *Pending
	nilPending.Ok(Output{}) // no panic
}

func TestHistoryMaxOps(t *testing.T) {
	h := NewHistory(HistoryOptions{MaxOps: 2})
	for range 3 {
		h.Call(0, get(0, "x")).Ok(Output{})
	}
	assert.Equal(t, 2, h.Len())
	assert.True(t, h.Overflowed())
	assert.Len(t, h.Operations(), 2)
}

func TestHistoryCustomClock(t *testing.T) {
	var now int64 = 100
	h := NewHistory(HistoryOptions{Clock: func() int64 { now += 10; return now }})
	h.Call(0, get(0, "x")).Ok(Output{})
	ops := h.Operations()
	require.Len(t, ops, 1)
	assert.Equal(t, int64(110), ops[0].Call)
	assert.Equal(t, int64(120), ops[0].Return)
}

func TestHistoryConcurrentRecording(t *testing.T) {
	h := NewHistory(HistoryOptions{})
	var mu sync.Mutex
	reg := ""
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Go(func() {
			for i := range 60 {
				if i%2 == 0 {
					val := fmt.Sprintf("%d-%d", c, i)
					p := h.Call(c, putIn(c, "x", val))
					mu.Lock()
					reg = val
					mu.Unlock()
					p.Ok(Output{})
					continue
				}
				p := h.Call(c, get(c, "x"))
				mu.Lock()
				got := reg
				mu.Unlock()
				p.Ok(Output{Value: got, Found: got != ""})
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 480, h.Len())
	// A mutex-protected register is linearizable.
	assert.Equal(t, porcupine.Ok, Check(h.Operations(), 30*time.Second))
}

// fakeTB records failures instead of failing the real test.
type fakeTB struct {
	testing.TB
	dir    string
	errors []string
	logs   []string
}

func (f *fakeTB) Helper()             {}
func (f *fakeTB) ArtifactDir() string { return f.dir }
func (f *fakeTB) Errorf(format string, a ...any) {
	f.errors = append(f.errors, fmt.Sprintf(format, a...))
}
func (f *fakeTB) Logf(format string, a ...any) { f.logs = append(f.logs, fmt.Sprintf(format, a...)) }

func TestRequireLinearizableWritesVisualization(t *testing.T) {
	h := NewHistory(HistoryOptions{})
	record(h, []scripted{
		{0, putIn(0, "x", "1"), Output{}, ""},
		{1, get(1, "x"), Output{}, ""},
	})
	ft := &fakeTB{TB: t, dir: t.TempDir()}
	res := RequireLinearizable(ft, h.Operations(), 10*time.Second)
	assert.Equal(t, porcupine.Illegal, res)
	require.Len(t, ft.errors, 1)
	assert.Contains(t, ft.errors[0], "Illegal")
	html, err := os.ReadFile(filepath.Join(ft.dir, "linearizability.html"))
	require.NoError(t, err)
	assert.Contains(t, string(html), `put(\"x\", \"1\")`, "the visualization describes the operations")
	assert.Contains(t, string(html), `get(\"x\") -\u003e not found`)

	ok := &fakeTB{TB: t, dir: t.TempDir()}
	h2 := NewHistory(HistoryOptions{})
	record(h2, []scripted{{0, putIn(0, "x", "1"), Output{}, ""}})
	assert.Equal(t, porcupine.Ok, RequireLinearizable(ok, h2.Operations(), time.Second))
	assert.Empty(t, ok.errors)

	ill := &fakeTB{TB: t, dir: t.TempDir()}
	assert.Equal(t, porcupine.Ok, RequireIllegal(ill, h2.Operations(), time.Second))
	assert.Len(t, ill.errors, 1, "RequireIllegal fails on an Ok history")
}

func TestModelDescriptions(t *testing.T) {
	m := Model()
	assert.Equal(t, `get("k") -> "v"`, m.DescribeOperation(get(0, "k"), found("v")))
	assert.Equal(t, `get("k") -> not found`, m.DescribeOperation(get(0, "k"), Output{}))
	assert.Equal(t, `get("k") -> ?`, m.DescribeOperation(get(0, "k"), Output{Unknown: true}))
	assert.Equal(t, `put("k", "v") ?`, m.DescribeOperation(putIn(0, "k", "v"), Output{Unknown: true}))
	assert.Equal(t, `delete("k")`, m.DescribeOperation(Input{Kind: KindDelete, Key: "k"}, Output{}))
	assert.Equal(t, "invalid", m.DescribeOperation(Input{}, Output{}))
	assert.Equal(t, "(missing)", m.DescribeState(m.Init()))
	ok, _ := m.Step(m.Init(), "not an input", Output{})
	assert.False(t, ok, "foreign inputs are rejected, not a panic")
}

func TestCheckEventsPartition(t *testing.T) {
	m := Model()
	events := []porcupine.Event{
		{Kind: porcupine.CallEvent, Value: putIn(0, "x", "1"), Id: 0},
		{Kind: porcupine.CallEvent, Value: putIn(1, "y", "2"), Id: 1},
		{Kind: porcupine.ReturnEvent, Value: Output{}, Id: 0},
		{Kind: porcupine.ReturnEvent, Value: Output{}, Id: 1},
		{Kind: porcupine.CallEvent, Value: get(0, "x"), Id: 2},
		{Kind: porcupine.ReturnEvent, Value: found("2"), Id: 2},
	}
	parts := m.PartitionEvent(events)
	require.Len(t, parts, 2)
	assert.Len(t, parts[0], 4)
	assert.Equal(t, porcupine.Illegal, porcupine.CheckEventsTimeout(m, events, time.Second))
}
