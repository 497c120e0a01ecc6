package main

import (
	"fmt"

	"github.com/bulwark-go/bulwark/grayroute"
)

// grayConfig is the release that picks the v1 or v2 handlers: everyone is
// split by a stable hash of the user id, and the plan ramps v2 from 10 % to
// 25 % to 50 % while v2's error rate and p99 (read from the metrics) stay
// within the gate against v1's. The last step's dwell is a day: the demo
// holds at 50 %, where a bad v2 build is still caught and rolled back (a
// finished plan is no longer judged). Bumping epoch restarts the ramp, as a
// fixed build would.
func grayConfig(epoch int) (grayroute.Config, error) {
	return grayroute.ParseConfig(fmt.Appendf(nil, `{"releases": {%q: {
  "variants": ["v1", "v2"],
  "rules": [{"name": "everyone", "split": {"v1": 10000, "v2": 0}}],
  "plan": {"canary": "v2", "control": "v1", "epoch": %d,
    "steps": [{"share": 1000, "dwell": "1s", "min_samples": 20},
              {"share": 2500, "dwell": "1s", "min_samples": 40},
              {"share": 5000, "dwell": "24h", "min_samples": 60}],
    "gate": {"max_error_rate_increase": 0.03, "max_p99_ratio": 2}}}}}`, release, epoch))
}
