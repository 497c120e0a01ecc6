package logging

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/bits"
	"reflect"
	"strings"
	"time"
	"unsafe"
)

// keptRecord is a record held after Handle has returned: in a flight
// buffer or in the ring. Its opaque values were formatted when it was kept
// (freeze), so writing it later neither shows state the caller changed
// since nor reads memory the caller may be changing (a map being written
// while it is formatted is a fatal error in Go, not a panic).
type keptRecord struct {
	h     *Handler
	time  time.Time
	msg   string
	level slog.Level
	pc    uintptr
	attrs []slog.Attr
	size  int         // bytes charged to a flight buffer
	next  *keptRecord // next newer record in a flight buffer
}

// record rebuilds the slog.Record.
func (k *keptRecord) record() slog.Record {
	r := slog.NewRecord(k.time, k.level, k.msg, k.pc)
	r.AddAttrs(k.attrs...)
	return r
}

// freezeMode says which renderings of an opaque value a kept record needs:
// those of slog's JSONHandler, of its TextHandler, or of both plus the
// value's error-ness for a handler we do not know.
type freezeMode uint8

const (
	freezeJSON freezeMode = 1 << iota
	freezeText
	freezeOther // an unknown handler: errors stay errors
	freezeOwn   // our own JSONHandler (the Ring's): no ReplaceAttr looks at types
)

// freezeRing is the Ring's mode: its records are only ever written by the
// Ring's own JSONHandler.
const freezeRing = freezeJSON | freezeOwn

// modeOf is the mode a handler needs.
func modeOf(next slog.Handler) freezeMode {
	switch next.(type) {
	case *slog.JSONHandler:
		return freezeJSON
	case *slog.TextHandler:
		return freezeText
	}
	return freezeJSON | freezeText | freezeOther
}

var (
	keptOverhead = int(unsafe.Sizeof(keptRecord{}))
	attrBytes    = int(unsafe.Sizeof(slog.Attr{}))
	frozenBytes  = int(unsafe.Sizeof(frozen{}))
)

// allocCharge is n rounded up past the Go allocator's size classes: to a
// multiple of a quarter of n's power of two (at least 16). The real size
// classes are finer (about an eighth), so this never undercharges.
func allocCharge(n int) int {
	if n <= 0 {
		return 0
	}
	step := max(16, 1<<max(0, bits.Len(uint(n))-3))
	return (n + step - 1) / step * step
}

// keeper builds one keptRecord. With own set (flight buffers) every
// string the record keeps is copied into one block, so a short string cut
// from a long one does not keep the long one alive and the charged size is
// what the record really holds.
type keeper struct {
	mode  freezeMode
	own   bool
	limit int // > 0: give up once the record is charged more
	over  bool
	block strings.Builder
	size  int // bytes charged besides the block
}

// keep freezes r for h into kr. r must already be prepared (LogValuers
// resolved). With limit > 0 it returns false, having skipped what work it
// could, for a record that would be charged more than limit.
func keep(kr *keptRecord, h *Handler, r *slog.Record, mode freezeMode, own bool, limit int) bool {
	k := keeper{mode: mode, own: own, limit: limit}
	if own {
		n := len(r.Message)
		r.Attrs(func(a slog.Attr) bool {
			n += stringBytes(a)
			return true
		})
		if limit > 0 && n > limit {
			return false
		}
		k.block.Grow(n)
	}
	*kr = keptRecord{h: h, time: r.Time, level: r.Level, pc: r.PC, msg: k.str(r.Message)}
	if n := r.NumAttrs(); n > 0 {
		kr.attrs = make([]slog.Attr, 0, n)
		k.size += allocCharge(n * attrBytes)
		r.Attrs(func(a slog.Attr) bool {
			kr.attrs = append(kr.attrs, k.attr(a))
			return true
		})
	}
	kr.size = allocCharge(keptOverhead) + allocCharge(k.block.Cap()) + k.size
	return !k.over && (limit <= 0 || kr.size <= limit)
}

// stringBytes is the string bytes an attribute holds (keys and string
// values, through groups).
func stringBytes(a slog.Attr) int {
	n := len(a.Key)
	switch a.Value.Kind() {
	case slog.KindString:
		n += len(a.Value.String())
	case slog.KindGroup:
		for _, c := range a.Value.Group() {
			n += stringBytes(c)
		}
	}
	return n
}

// str returns s, copied into the record's block when the keeper owns its
// strings. A string the block has no room left for is copied alone.
func (k *keeper) str(s string) string {
	if !k.own || s == "" {
		return s
	}
	if k.block.Len()+len(s) > k.block.Cap() {
		k.size += allocCharge(len(s))
		return strings.Clone(s)
	}
	k.block.WriteString(s)
	all := k.block.String()
	return all[len(all)-len(s):]
}

func (k *keeper) attr(a slog.Attr) slog.Attr {
	return slog.Attr{Key: k.str(a.Key), Value: k.value(a.Value)}
}

func (k *keeper) value(v slog.Value) slog.Value {
	v = v.Resolve()
	switch v.Kind() {
	case slog.KindString:
		if k.own {
			return slog.StringValue(k.str(v.String()))
		}
	case slog.KindGroup:
		// A copy: the caller may reuse the slice it built the group from.
		as := v.Group()
		out := make([]slog.Attr, len(as))
		k.size += allocCharge(len(as) * attrBytes)
		for i, a := range as {
			out[i] = k.attr(a)
		}
		return slog.GroupValue(out...)
	case slog.KindAny:
		return k.opaque(v)
	}
	return v // numbers, bools, durations and times are held by value
}

// opaque freezes a KindAny value into what the handler would have written
// for it at log time.
func (k *keeper) opaque(v slog.Value) slog.Value {
	if k.over {
		return v // the record is dropped: skip the work
	}
	a := v.Any()
	switch x := a.(type) {
	case nil, *frozen, *frozenError, *frozenVerboseError, *frozenMarshalerError:
		return v
	case []byte:
		if k.limit > 0 && len(x) > k.limit {
			k.over = true
			return v
		}
		cp := make([]byte, len(x))
		copy(cp, x)
		k.size += allocCharge(len(x)) + allocCharge(24) // the bytes and the boxed slice header
		return slog.AnyValue(cp)
	}
	switch reflect.TypeOf(a).Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.String:
		// Copied into the interface when it was logged: nothing can change it.
		return v
	}
	err, isErr := a.(error)
	if isErr {
		_, jm := a.(json.Marshaler)
		_, tm := a.(encoding.TextMarshaler)
		if !jm && !tm {
			return k.frozenErr(err)
		}
	}
	f := frozen{has: k.mode & (freezeJSON | freezeText)}
	if k.mode&freezeJSON != 0 {
		f.json = jsonOf(a)
	}
	if k.mode&freezeText != 0 {
		f.text = textOf(a)
	}
	if _, tm := a.(encoding.TextMarshaler); tm && k.mode&freezeOther != 0 {
		// %+v does not use MarshalText: keep what it printed apart.
		f.str, f.has = fmtOf(a), f.has|freezeOther
	}
	k.size += allocCharge(frozenBytes) + allocCharge(len(f.json)) + allocCharge(len(f.text)) + allocCharge(len(f.str))
	if k.limit > 0 && k.size > k.limit {
		k.over = true
	}
	if isErr && k.mode&freezeOther != 0 {
		// An error that marshals itself, for a handler that may treat
		// errors apart: it stays an error.
		e := &frozenMarshalerError{frozen: f, msg: err.Error(), verbose: verboseOf(err)}
		k.size += allocCharge(len(e.msg)) + allocCharge(len(e.verbose)) + 32
		return slog.AnyValue(e)
	}
	return slog.AnyValue(&f)
}

// verboseOf is err's %+v when it differs from its message (a Formatter
// adding a stack trace, say), else "".
func verboseOf(err error) string {
	if _, ok := err.(fmt.Formatter); !ok {
		return ""
	}
	if s := fmt.Sprintf("%+v", err); s != err.Error() {
		return s
	}
	return ""
}

// frozenErr keeps an error as its text, still an error (a ReplaceAttr may
// look for errors): its message, and its %+v when a text handler may
// print it and it differs (a stack trace, say).
func (k *keeper) frozenErr(err error) slog.Value {
	msg := err.Error()
	if k.mode&freezeOwn != 0 {
		return slog.StringValue(msg) // what JSONHandler writes for an error
	}
	if k.own {
		msg = strings.Clone(msg) // it may be cut from a longer string
	}
	verbose := ""
	if k.mode&freezeText != 0 {
		verbose = verboseOf(err)
	}
	k.size += allocCharge(len(msg)) + allocCharge(len(verbose))
	if verbose == "" {
		k.size += allocCharge(16)
		return slog.AnyValue(&frozenError{msg: msg})
	}
	k.size += allocCharge(32)
	return slog.AnyValue(&frozenVerboseError{msg: msg, verbose: verbose})
}

// jsonOf is v as slog's JSONHandler writes it (json.Marshal without HTML
// escaping; an error as "!ERROR:…", as slog writes it).
func jsonOf(v any) (s string) {
	defer func() {
		if p := recover(); p != nil {
			s = stringJSON(fmt.Sprintf("!PANIC:%v", p))
		}
	}()
	var bb bytes.Buffer
	enc := json.NewEncoder(&bb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return stringJSON("!ERROR:" + err.Error())
	}
	return string(bytes.TrimSuffix(bb.Bytes(), []byte{'\n'}))
}

// textOf is v as slog's TextHandler writes it, before quoting.
func textOf(v any) (s string) {
	defer func() {
		if p := recover(); p != nil {
			s = fmt.Sprintf("!PANIC:%v", p)
		}
	}()
	if tm, ok := v.(encoding.TextMarshaler); ok {
		b, err := tm.MarshalText()
		if err != nil {
			return fmt.Sprintf("!ERROR:%v", err)
		}
		return string(b)
	}
	return fmt.Sprintf("%+v", v)
}

// fmtOf is v's %+v.
func fmtOf(v any) (s string) {
	defer func() {
		if p := recover(); p != nil {
			s = fmt.Sprintf("!PANIC:%v", p)
		}
	}()
	return fmt.Sprintf("%+v", v)
}

func stringJSON(s string) string {
	var bb bytes.Buffer
	enc := json.NewEncoder(&bb)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return string(bytes.TrimSuffix(bb.Bytes(), []byte{'\n'}))
}

// frozen is an opaque value as formatted when its record was kept. It
// marshals to the JSON and text captured then and prints (String, %+v) as
// the value printed.
type frozen struct {
	json, text string
	str        string // %+v, kept apart when MarshalText differs from it
	has        freezeMode
}

// MarshalJSON returns the value's JSON as it was when logged.
func (f *frozen) MarshalJSON() ([]byte, error) {
	if f.has&freezeJSON == 0 {
		return []byte(stringJSON(f.text)), nil
	}
	return []byte(f.json), nil
}

// MarshalText returns the value's text as it was when logged.
func (f *frozen) MarshalText() ([]byte, error) {
	if f.has&freezeText == 0 {
		return []byte(f.json), nil
	}
	return []byte(f.text), nil
}

func (f *frozen) String() string {
	if f.has&freezeOther != 0 {
		return f.str
	}
	b, _ := f.MarshalText()
	return string(b)
}

// frozenError is a logged error's text.
type frozenError struct{ msg string }

func (e *frozenError) Error() string { return e.msg }

// frozenVerboseError also keeps the error's %+v (a stack trace, say).
type frozenVerboseError struct{ msg, verbose string }

func (e *frozenVerboseError) Error() string { return e.msg }

// Format writes the %+v text for %+v and the message otherwise.
func (e *frozenVerboseError) Format(s fmt.State, verb rune) { formatError(s, verb, e.msg, e.verbose) }

// frozenMarshalerError is an error that marshals itself (JSON or text),
// kept for a handler this package does not know.
type frozenMarshalerError struct {
	frozen
	msg, verbose string
}

func (e *frozenMarshalerError) Error() string { return e.msg }

// Format writes the %+v text for %+v and the message otherwise.
func (e *frozenMarshalerError) Format(s fmt.State, verb rune) {
	formatError(s, verb, e.msg, e.verbose)
}

func formatError(s fmt.State, verb rune, msg, verbose string) {
	switch {
	case verb == 'v' && s.Flag('+') && verbose != "":
		_, _ = io.WriteString(s, verbose)
	case verb == 'q':
		_, _ = fmt.Fprintf(s, "%q", msg)
	default:
		_, _ = io.WriteString(s, msg)
	}
}
