package overload

import (
	"flag"
	"os"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/bulwark-go/bulwark/benchmarks/overload/experiment"
)

var (
	experimentParts = flag.String("experiment.parts", "", "parts of TestExperiment: table,m2,step (default all)")
	experimentSeed  = flag.Uint64("experiment.seed", 1, "workload seed of TestExperiment")
	experimentLoads = flag.String("experiment.loads", "", "load multiples for the table (default 0.5,1,2,4)")
	experimentPols  = flag.String("experiment.policies", "", "policies for the table, e.g. bulwark,bulwark-own (default all)")
)

// TestExperiment runs the load experiment in virtual time: inside a synctest
// bubble, sleeps, timers and deadlines are exact and the results do not
// depend on how loaded the machine is. It prints the tables (run with -v).
// With -short it runs the quick version. It fails if Bulwark misses a
// target.
func TestExperiment(t *testing.T) {
	o := experiment.Options{Quick: testing.Short(), Seed: *experimentSeed, Mode: "virtual time (synctest)"}
	if *experimentParts != "" {
		o.Parts = strings.Split(*experimentParts, ",")
	}
	if *experimentPols != "" {
		o.Policies = strings.Split(*experimentPols, ",")
	}
	for _, f := range strings.Split(*experimentLoads, ",") {
		if f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v <= 0 {
			t.Fatalf("bad -experiment.loads %q", f)
		}
		o.Loads = append(o.Loads, v)
	}
	synctest.Test(t, func(t *testing.T) {
		if !experiment.Run(o, os.Stdout) {
			t.Error("Bulwark missed a target; see the tables above")
		}
	})
}
