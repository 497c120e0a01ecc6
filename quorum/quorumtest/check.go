package quorumtest

import (
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// register is the model's state for one key.
type register struct {
	Value   string
	Present bool
}

// Model returns porcupine's sequential specification of a key-value store of
// registers (get, put, delete), partitioned by key: a history is
// linearizable exactly when each key's sub-history is, which keeps the check
// fast for many keys. Inputs are Input values and outputs Output values; a
// get whose Output is Unknown matches any state.
func Model() porcupine.Model {
	return porcupine.Model{
		Partition: partitionByKey,
		PartitionEvent: func(events []porcupine.Event) [][]porcupine.Event {
			// Call events carry the Input; returns are matched by Id.
			keyOf := make(map[int]string)
			byKey := make(map[string][]porcupine.Event)
			var order []string
			for _, e := range events {
				k, ok := keyOf[e.Id]
				if in, isIn := e.Value.(Input); e.Kind == porcupine.CallEvent && isIn {
					k, ok = in.Key, true
					keyOf[e.Id] = k
				}
				if !ok {
					continue
				}
				if _, seen := byKey[k]; !seen {
					order = append(order, k)
				}
				byKey[k] = append(byKey[k], e)
			}
			out := make([][]porcupine.Event, 0, len(order))
			for _, k := range order {
				out = append(out, byKey[k])
			}
			return out
		},
		Init: func() any { return register{} },
		Step: step,
		Hash: func(state any) uint64 {
			r := state.(register)
			h := fnv.New64a()
			h.Write([]byte(r.Value))
			if r.Present {
				h.Write([]byte{1})
			}
			return h.Sum64()
		},
		DescribeOperation: describeOperation,
		DescribeState: func(state any) string {
			r := state.(register)
			if !r.Present {
				return "(missing)"
			}
			return fmt.Sprintf("%q", r.Value)
		},
	}
}

func partitionByKey(history []porcupine.Operation) [][]porcupine.Operation {
	byKey := make(map[string][]porcupine.Operation)
	var order []string
	for _, op := range history {
		in, ok := op.Input.(Input)
		if !ok {
			continue
		}
		if _, seen := byKey[in.Key]; !seen {
			order = append(order, in.Key)
		}
		byKey[in.Key] = append(byKey[in.Key], op)
	}
	out := make([][]porcupine.Operation, 0, len(order))
	for _, k := range order {
		out = append(out, byKey[k])
	}
	return out
}

func step(state, input, output any) (bool, any) {
	r, _ := state.(register)
	in, ok := input.(Input)
	if !ok {
		return false, r
	}
	out, _ := output.(Output)
	switch in.Kind {
	case KindGet:
		if out.Unknown {
			return true, r
		}
		if out.Found != r.Present {
			return false, r
		}
		return !out.Found || out.Value == r.Value, r
	case KindPut:
		return true, register{Value: in.Value, Present: true}
	case KindDelete:
		return true, register{}
	}
	return false, r
}

func describeOperation(input, output any) string {
	in, _ := input.(Input)
	out, _ := output.(Output)
	var b strings.Builder
	switch in.Kind {
	case KindGet:
		fmt.Fprintf(&b, "get(%q) -> ", in.Key)
		switch {
		case out.Unknown:
			b.WriteString("?")
		case out.Found:
			fmt.Fprintf(&b, "%q", out.Value)
		default:
			b.WriteString("not found")
		}
		return b.String()
	case KindPut:
		fmt.Fprintf(&b, "put(%q, %q)", in.Key, in.Value)
	case KindDelete:
		fmt.Fprintf(&b, "delete(%q)", in.Key)
	default:
		return "invalid"
	}
	if out.Unknown {
		b.WriteString(" ?")
	}
	return b.String()
}

// Check reports whether ops (from History.Operations) are linearizable
// under Model. It gives up after timeout (zero: no limit) and then returns
// porcupine.Unknown, which proves nothing: treat it as a failure. Only
// porcupine.Ok is a pass.
func Check(ops []porcupine.Operation, timeout time.Duration) porcupine.CheckResult {
	return porcupine.CheckOperationsTimeout(Model(), ops, timeout)
}

// CheckVerbose is Check that also returns what porcupine needs to draw the
// history (slower: it explores every partition to the end).
func CheckVerbose(ops []porcupine.Operation, timeout time.Duration) (porcupine.CheckResult, porcupine.LinearizationInfo) {
	return porcupine.CheckOperationsVerbose(Model(), ops, timeout)
}

// WriteVisualization writes porcupine's interactive HTML view of a checked
// history to path, creating its directory.
func WriteVisualization(path string, info porcupine.LinearizationInfo) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("quorumtest: %w", err)
	}
	if err := porcupine.VisualizePath(Model(), info, path); err != nil {
		return fmt.Errorf("quorumtest: visualize: %w", err)
	}
	return nil
}

// RequireLinearizable fails t unless ops check Ok within timeout. Illegal and
// Unknown (timed out) both fail; the history is then drawn into
// t.ArtifactDir() (kept with go test -artifacts) and the file named in the
// log. It returns the result.
func RequireLinearizable(t testing.TB, ops []porcupine.Operation, timeout time.Duration) porcupine.CheckResult {
	t.Helper()
	res := Check(ops, timeout)
	if res == porcupine.Ok {
		return res
	}
	t.Errorf("quorumtest: history of %d operations is %s, want %s (Unknown means the check timed out after %v)",
		len(ops), res, porcupine.Ok, timeout)
	logVisualization(t, ops, timeout)
	return res
}

// RequireIllegal fails t unless ops check Illegal within timeout: it proves a
// checker, or a fault schedule, able to catch a violation. (It does not draw
// the counterexample, which takes porcupine far longer than finding it; use
// CheckVerbose and WriteVisualization for that.)
func RequireIllegal(t testing.TB, ops []porcupine.Operation, timeout time.Duration) porcupine.CheckResult {
	t.Helper()
	res := Check(ops, timeout)
	if res != porcupine.Illegal {
		t.Errorf("quorumtest: history of %d operations is %s, want %s", len(ops), res, porcupine.Illegal)
	}
	return res
}

func logVisualization(t testing.TB, ops []porcupine.Operation, timeout time.Duration) {
	t.Helper()
	_, info := CheckVerbose(ops, timeout)
	path := filepath.Join(t.ArtifactDir(), "linearizability.html")
	if err := WriteVisualization(path, info); err != nil {
		t.Logf("quorumtest: no visualization: %v", err)
		return
	}
	t.Logf("quorumtest: visualization in %s (kept with go test -artifacts)", path)
}
