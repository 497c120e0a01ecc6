// Package breaker is circuit breaking for Go services, built on the model of
// github.com/sony/gobreaker/v2: per-dependency breakers with context, slow
// calls, a safe half-open state and a growing open period; bounded per-key
// groups; and Google SRE's client-side throttle.
package breaker
