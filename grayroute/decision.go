package grayroute

import "strconv"

// Request is what a decision is made on: the bucketing key (a user or
// device ID) and attributes such as platform, version, region or idc.
type Request struct {
	Key   string
	Attrs map[string]string
}

// Decision is the outcome of Route.
type Decision struct {
	Release string
	// Variant is the chosen variant; "" for an unknown release.
	Variant string
	// Rule names the rule that decided; "" when none matched.
	Rule string
	// Bucket is the key's bucket (0..9,999) when a split decided, else -1.
	Bucket int
	Reason Reason
}

// Reason says how a Decision was reached.
type Reason uint8

const (
	// ReasonUnknownRelease: no release of that name; Variant is "".
	ReasonUnknownRelease Reason = iota
	// ReasonWhitelist: a rule with keys listing the request key matched.
	ReasonWhitelist
	// ReasonRule: a rule with conditions only matched and names a variant.
	ReasonRule
	// ReasonSplit: a matching rule's split picked the variant by bucket.
	ReasonSplit
	// ReasonSticky: the split picked a non-canary variant, but the key
	// entered a canary variant earlier and stays there.
	ReasonSticky
	// ReasonDefault: no rule matched, or a split had no key to hash (then
	// Rule names the rule and the variant is the plan's control, or the
	// release default).
	ReasonDefault
	// ReasonPropagated: the decision came from a trusted incoming
	// Bulwark-Gray header (see Middleware).
	ReasonPropagated
)

func (r Reason) String() string {
	switch r {
	case ReasonUnknownRelease:
		return "unknown release"
	case ReasonWhitelist:
		return "whitelist"
	case ReasonRule:
		return "rule"
	case ReasonSplit:
		return "split"
	case ReasonSticky:
		return "sticky"
	case ReasonDefault:
		return "default"
	case ReasonPropagated:
		return "propagated"
	}
	return "reason(" + strconv.Itoa(int(r)) + ")"
}

// Explanation is a Decision with the trace of rules tried.
type Explanation struct {
	Decision Decision
	Steps    []Step
}

// Step is one rule tried by Explain, in order.
type Step struct {
	Rule    string
	Matched bool
	// Condition is the index in the rule's when of the first condition
	// that failed, or -1 (matched, or the key was not in the whitelist).
	Condition int
	Detail    string
}
