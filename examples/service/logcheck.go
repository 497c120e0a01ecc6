package main

import (
	"bytes"
	"encoding/json"
	"sync"
)

// logCheck reads the service's JSON log as it is written and checks the
// dye promise: a debug line reaches the log only for a dyed user, or as
// part of a failed request's flight (its buffered debug records, written
// just before its first error). Lines are attributed to the phase in force
// when they were written; a phase is judged once every request issued in
// it has been answered, so each of its flights is complete by then.
type logCheck struct {
	mu      sync.Mutex
	partial []byte
	phase   string
	dyed    string
	byPhase map[string]*logPhase
	errReqs map[uint64]bool // requests that logged an error (their flight was written)
}

type logPhase struct {
	dyedDebug  int               // debug lines of the dyed user
	otherDebug map[uint64]string // request → user, debug lines of anyone else
	noRequest  int               // debug lines outside any request
	warnings   int
	errors     int
}

// logResult is a phase's verdict.
type logResult struct {
	dyedDebug   int
	stray       int    // debug lines of others outside any failed request's flight
	strayUser   string // one of them, for the message
	flights     int    // failed requests whose flight was written
	noRequest   int
	warn, error int
}

func newLogCheck() *logCheck {
	return &logCheck{byPhase: map[string]*logPhase{}, errReqs: map[uint64]bool{}}
}

// setPhase attributes the lines written from now on to phase; dyed is the
// user whose debug lines are expected in it ("" for none).
func (l *logCheck) setPhase(phase, dyed string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.phase, l.dyed = phase, dyed
	if l.byPhase[phase] == nil {
		l.byPhase[phase] = &logPhase{otherDebug: map[uint64]string{}}
	}
}

// Write takes whole JSON lines (slog writes one record per call) and keeps
// a partial line for the next call.
func (l *logCheck) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	data := append(l.partial, p...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		l.line(data[:i])
		data = data[i+1:]
	}
	l.partial = append(l.partial[:0], data...)
	return len(p), nil
}

func (l *logCheck) line(b []byte) {
	var rec struct {
		Level string `json:"level"`
		User  string `json:"user"`
		Req   uint64 `json:"req"`
	}
	if json.Unmarshal(b, &rec) != nil {
		return
	}
	ph := l.byPhase[l.phase]
	if ph == nil {
		ph = &logPhase{otherDebug: map[uint64]string{}}
		l.byPhase[l.phase] = ph
	}
	switch rec.Level {
	case "DEBUG":
		switch {
		case rec.Req == 0:
			ph.noRequest++
		case l.dyed != "" && rec.User == l.dyed:
			ph.dyedDebug++
		case len(ph.otherDebug) < 1<<20:
			ph.otherDebug[rec.Req] = rec.User
		}
	case "WARN":
		ph.warnings++
	case "ERROR":
		ph.errors++
		if rec.Req != 0 && len(l.errReqs) < 1<<20 {
			l.errReqs[rec.Req] = true
		}
	}
}

func (l *logCheck) result(phase string) logResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	ph := l.byPhase[phase]
	if ph == nil {
		return logResult{}
	}
	r := logResult{dyedDebug: ph.dyedDebug, noRequest: ph.noRequest, warn: ph.warnings, error: ph.errors}
	for req, user := range ph.otherDebug {
		if l.errReqs[req] {
			r.flights++
		} else {
			r.stray++
			r.strayUser = user
		}
	}
	return r
}
