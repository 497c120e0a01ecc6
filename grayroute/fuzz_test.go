package grayroute

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// FuzzConfigRoute: any bytes through ParseConfig, New, Route and Explain
// never panic; a compiled config routes every release to one of its
// variants, and Explain agrees with Route.
func FuzzConfigRoute(f *testing.F) {
	f.Add([]byte(issueConfig), "10001", "ios", "8.0.50")
	f.Add([]byte(`{"releases":{"a":{"variants":["x","y"],"rules":[{"when":[{"op":"key_range","min":"1","max":9}],"split":{"x":1,"y":9999}}]}}}`), "5", "", "")
	f.Add([]byte(`{"releases":{"a":{"variants":["x"],"rules":[{"when":[{"attr":"v","op":"num_gte","value":"1e2"}],"variant":"x"}]}}}`), "", "100", "v1.2.3-rc.1+b")
	f.Fuzz(func(t *testing.T, data []byte, key, a1, a2 string) {
		cfg, err := ParseConfig(data)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Offset > int64(len(data)) || (ce.Offset < 0 && len(data) <= MaxConfigSize) {
				t.Fatalf("error %v: want a *ConfigError located in the text", err)
			}
			return
		}
		// What ParseConfig accepts, encoding/json reads the same way (it
		// only refuses more: duplicates, other cases, null elements).
		var std Config
		d := json.NewDecoder(bytes.NewReader(data))
		d.DisallowUnknownFields()
		if err := d.Decode(&std); err != nil || !reflect.DeepEqual(std, cfg) {
			t.Fatalf("encoding/json: %v, %+v; ParseConfig %+v", err, std, cfg)
		}
		r, err := New(cfg)
		if err != nil {
			return
		}
		q := Request{Key: key, Attrs: map[string]string{"platform": a1, "version": a2, "v": a1, "p": a2}}
		for _, n := range r.Releases() {
			d := r.Route(n, q)
			ex := r.Explain(n, q)
			if d != ex.Decision {
				t.Fatalf("Route %+v, Explain %+v", d, ex.Decision)
			}
			found := false
			for _, v := range cfg.Releases[n].Variants {
				found = found || v == d.Variant
			}
			if !found || d.Bucket < -1 || d.Bucket >= Buckets {
				t.Fatalf("bad decision %+v", d)
			}
		}
		_ = r.Update(cfg)
	})
}

// FuzzHeader: ParseHeader never panics and agrees with the reference
// parser; what it accepts, FormatHeader writes back to an equal set.
func FuzzHeader(f *testing.F) {
	for _, s := range []string{"chat-v2=canary,search=stable", " a=b ,\tc=d", "a=b,,c=d", "a=b,a=c", "a = b", "a=b,", "x=\x00", "r=stable,payments=canary"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, err := ParseHeader(v)
		want, ok := refParse(v)
		if ok != (err == nil) || !reflect.DeepEqual(got, want) {
			t.Fatalf("ParseHeader(%q) = %v, %v; reference %v, %v", v, got, err, want, ok)
		}
		if err != nil {
			return
		}
		h, err := FormatHeader(got)
		if err != nil {
			t.Fatalf("FormatHeader(%v): %v", got, err)
		}
		again, err := ParseHeader(h)
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("round trip %q -> %q -> %v, %v", v, h, again, err)
		}
	})
}

// FuzzStateFile feeds arbitrary state files to NewPlanner (then a Tick)
// and to a follower's WatchState poll: no panic, a refused file matches
// ErrBadState, and the routed share stays one of the plan's (or 0).
func FuzzStateFile(f *testing.F) {
	f.Add([]byte(`{"version":1,"seq":3,"lineage":"ab","releases":{"r":{"fingerprint":"x","step":1,"step_started":"2001-09-09T01:46:40Z","rolled_back":true}}}`))
	f.Add([]byte(`{"version":1,"releases":{"r":{"step":0,"step_started":"2999-01-01T00:00:00Z","absent_since":"2999-01-01T00:00:00Z"}}}`))
	f.Add([]byte(`{"version":1,"seq":18446744073709551615,"releases":{}}`))
	r0, err := New(twoStepConfig(0, 0, false))
	if err != nil {
		f.Fatal(err)
	}
	fp := r0.releaseOf("r").plan.fp
	f.Add([]byte(`{"version":1,"seq":1,"releases":{"r":{"fingerprint":"` + fp + `","step":1,"step_started":"2001-09-09T01:46:40Z"}}}`))
	f.Add([]byte(`{"version":1,"seq":1,"releases":{"r":{"fingerprint":"` + fp + `","step":7,"step_started":"2001-09-09T01:46:40Z","done":true}}}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		sf := filepath.Join(dir, "s.json")
		if err := os.WriteFile(sf, data, 0o600); err != nil {
			t.Fatal(err)
		}
		valid := func(r *Router) {
			s := r.releaseOf("r").share
			if s != 0 && s != 1000 && s != 3000 {
				t.Fatalf("share %d", s)
			}
		}
		follower, _ := New(twoStepConfig(0, 0, false))
		var ferr error
		follower.hooks.OnReloadError = func(err error) { ferr = err }
		(&stateWatch{r: follower, path: sf}).poll()
		if ferr != nil && !errors.Is(ferr, ErrBadState) {
			t.Fatalf("follower error %v does not match ErrBadState", ferr)
		}
		valid(follower)
		r, _ := New(twoStepConfig(0, 0, false))
		p, err := NewPlanner(r, &modeHealth{}, PlannerConfig{StateFile: sf, Clock: &fakeClock{t: time.Unix(1e9, 0)}})
		if err != nil {
			if !errors.Is(err, ErrBadState) {
				t.Fatalf("NewPlanner error %v does not match ErrBadState", err)
			}
			return
		}
		valid(r)
		_ = p.Tick(context.Background())
		valid(r)
	})
}
