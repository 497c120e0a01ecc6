package grayroute

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseConfig reads a Config from JSON. It is strict: the text must be one
// JSON object; unknown fields, field names in another case ("Variant"), and
// a key repeated in one object are errors; null stands for an omitted field
// but not for an element or a map value. It checks the JSON shape only; New
// validates the rest. Every error is a *ConfigError (matching
// ErrInvalidConfig) carrying the path of the offending field, with indexes
// ("releases.chat-v2.rules[2].when[1].value"), and its place in the text
// (Offset, Line, Col).
func ParseConfig(data []byte) (Config, error) {
	if len(data) > MaxConfigSize {
		return Config{}, cfgErr("", fmt.Sprintf("config is %d bytes, more than %d", len(data), MaxConfigSize))
	}
	p := &parser{data: data, d: json.NewDecoder(bytes.NewReader(data))}
	p.d.UseNumber()
	var c Config
	if err := p.config(&c); err != nil {
		return Config{}, err
	}
	off := p.d.InputOffset()
	if _, err := p.d.Token(); err != io.EOF {
		return Config{}, p.errAt("", p.start(off), "trailing data after the JSON object")
	}
	return c, nil
}

// parser walks the JSON tokens of a config, keeping the path and the byte
// offset of each value, so that every error names both. It never skips a
// value: anything unexpected is an error at once, so its recursion depth is
// that of the Config shape, whatever the text.
type parser struct {
	data []byte
	d    *json.Decoder
}

// errAt is a *ConfigError at byte offset off of the text.
func (p *parser) errAt(path string, off int64, reason string) error {
	off = min(max(off, 0), int64(len(p.data)))
	line := 1 + bytes.Count(p.data[:off], []byte{'\n'})
	col := int(off) - bytes.LastIndexByte(p.data[:off], '\n')
	return &ConfigError{Path: path, Reason: reason, Offset: off, Line: line, Col: col}
}

// start is the offset of the next value at or after off (past white space
// and the ':' or ',' the decoder has not consumed yet).
func (p *parser) start(off int64) int64 {
	for off < int64(len(p.data)) {
		switch p.data[off] {
		case ' ', '\t', '\r', '\n', ':', ',':
			off++
			continue
		}
		break
	}
	return off
}

// next reads the next token and the offset where it starts; a syntax error
// is reported at the byte that broke the text, with the path being read.
func (p *parser) next(path string) (json.Token, int64, error) {
	raw := p.d.InputOffset()
	off := p.start(raw)
	t, err := p.d.Token()
	if err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return nil, off, p.syntaxErr(path, se, raw)
		case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
			return nil, off, p.errAt(path, int64(len(p.data)), "unexpected end of the JSON text")
		default:
			return nil, off, p.errAt(path, off, err.Error())
		}
	}
	return t, off, nil
}

// syntaxErr locates a syntax error the decoder met after the token ending
// at raw. The streaming decoder's Offset is not exact (depending on where it
// finds the error it counts from before skipped white space), but the
// whole-text check of json.Unmarshal stops at the first bad byte, which is
// the one the decoder met: the text before it was read without error.
func (p *parser) syntaxErr(path string, se *json.SyntaxError, raw int64) error {
	var whole *json.SyntaxError
	if errors.As(json.Unmarshal(p.data, new(json.RawMessage)), &whole) && whole.Offset > 0 {
		return p.errAt(path, whole.Offset-1, "syntax error: "+whole.Error())
	}
	return p.errAt(path, max(raw, se.Offset), "syntax error: "+se.Error())
}

// kind names a token's JSON type for "want X, got Y".
func kind(t json.Token) string {
	switch x := t.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(x)
	case string:
		return "a string"
	case json.Number:
		return "the number " + string(x)
	case json.Delim:
		if x == '{' {
			return "an object"
		}
		return "an array"
	}
	return fmt.Sprintf("%T", t)
}

func (p *parser) typeErr(path string, off int64, want string, t json.Token) error {
	return p.errAt(path, off, "want "+want+", got "+kind(t))
}

// object reads an object at path whose first token t was read at off,
// calling field for every key with the key's path. Keys must be unique.
func (p *parser) object(path string, t json.Token, off int64, field func(key, kpath string, koff int64) error) error {
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return p.typeErr(path, off, "an object", t)
	}
	seen := map[string]bool{}
	for p.d.More() {
		kt, koff, err := p.next(path)
		if err != nil {
			return err
		}
		key, _ := kt.(string) // the decoder only yields string keys
		kp := key
		if path != "" {
			kp = path + "." + key
		}
		if seen[key] {
			return p.errAt(kp, koff, fmt.Sprintf("duplicate key %q", key))
		}
		seen[key] = true
		if err := field(key, kp, koff); err != nil {
			return err
		}
	}
	_, _, err := p.next(path) // '}'
	return err
}

// array reads an array at path, calling elem for every element.
func (p *parser) array(path string, t json.Token, off int64, elem func(i int, ipath string) error) error {
	if d, ok := t.(json.Delim); !ok || d != '[' {
		return p.typeErr(path, off, "an array", t)
	}
	for i := 0; p.d.More(); i++ {
		if err := elem(i, fmt.Sprintf("%s[%d]", path, i)); err != nil {
			return err
		}
	}
	_, _, err := p.next(path) // ']'
	return err
}

// unknown is the error for a key that is no field of the object at path.
func (p *parser) unknown(kpath, key string, koff int64, fields ...string) error {
	for _, f := range fields {
		if strings.EqualFold(f, key) {
			return p.errAt(kpath, koff, fmt.Sprintf("unknown field %q (field names are case-sensitive: %q)", key, f))
		}
	}
	return p.errAt(kpath, koff, fmt.Sprintf("unknown field %q (known: %s)", key, strings.Join(fields, ", ")))
}

// Scalars. A field holding null keeps its zero value, as if omitted; an
// element or a map value may not be null (elemNull).

func (p *parser) str(path string, dst *string, nullOK bool) error {
	t, off, err := p.next(path)
	if err != nil {
		return err
	}
	switch x := t.(type) {
	case string:
		*dst = x
		return nil
	case nil:
		if nullOK {
			return nil
		}
	}
	return p.typeErr(path, off, "a string", t)
}

func (p *parser) integer(path string, bits int, nullOK bool) (int64, bool, error) {
	t, off, err := p.next(path)
	if err != nil {
		return 0, false, err
	}
	switch x := t.(type) {
	case json.Number:
		n, err := strconv.ParseInt(string(x), 10, bits)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return 0, false, p.errAt(path, off, fmt.Sprintf("integer %s out of range", x))
			}
			return 0, false, p.typeErr(path, off, "an integer", t)
		}
		return n, true, nil
	case nil:
		if nullOK {
			return 0, false, nil
		}
	}
	return 0, false, p.typeErr(path, off, "an integer", t)
}

func (p *parser) intField(path string, dst *int) error {
	n, ok, err := p.integer(path, strconv.IntSize, true)
	if ok {
		*dst = int(n)
	}
	return err
}

func (p *parser) float(path string, dst *float64) error {
	t, off, err := p.next(path)
	if err != nil {
		return err
	}
	switch x := t.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return p.errAt(path, off, fmt.Sprintf("number %s out of range", x))
		}
		if d := sigDigits(string(x)); d > maxSigDigits {
			return p.errAt(path, off, fmt.Sprintf("number %s has %d significant digits; at most %d are kept exactly", x, d, maxSigDigits))
		} else if d > 0 && math.Abs(f) < 0x1p-1022 {
			return p.errAt(path, off, fmt.Sprintf("number %s is too small to be kept exactly", x))
		}
		*dst = f
		return nil
	case nil:
		return nil
	}
	return p.typeErr(path, off, "a number", t)
}

// value reads an operand: a string or a number (its literal text).
func (p *parser) value(path string, nullOK bool) (*Value, error) {
	t, off, err := p.next(path)
	if err != nil {
		return nil, err
	}
	switch x := t.(type) {
	case string:
		v := Value(x)
		return &v, nil
	case json.Number:
		v := Value(x)
		return &v, nil
	case nil:
		if nullOK {
			return nil, nil
		}
	}
	return nil, p.typeErr(path, off, "a string or a number", t)
}

func (p *parser) strings(path string, dst *[]string) error {
	t, off, err := p.next(path)
	if err != nil || t == nil {
		return err
	}
	out := []string{}
	err = p.array(path, t, off, func(_ int, ip string) error {
		var s string
		err := p.str(ip, &s, false)
		out = append(out, s)
		return err
	})
	*dst = out
	return err
}

// The Config shape.

func (p *parser) config(c *Config) error {
	t, off, err := p.next("")
	if err != nil {
		return err
	}
	if t == nil {
		return p.errAt("", off, "the config is null; want an object such as {\"releases\": {...}}")
	}
	return p.object("", t, off, func(key, kp string, koff int64) error {
		switch key {
		case "releases":
			t, off, err := p.next(kp)
			if err != nil || t == nil {
				return err
			}
			c.Releases = map[string]Release{}
			return p.object(kp, t, off, func(name, rp string, _ int64) error {
				t, off, err := p.next(rp)
				if err != nil {
					return err
				}
				var r Release
				if err := p.release(rp, t, off, &r); err != nil {
					return err
				}
				c.Releases[name] = r
				return nil
			})
		case "attrs":
			return p.strings(kp, &c.Attrs)
		}
		return p.unknown(kp, key, koff, "releases", "attrs")
	})
}

func (p *parser) release(path string, t json.Token, off int64, r *Release) error {
	return p.object(path, t, off, func(key, kp string, koff int64) error {
		switch key {
		case "salt":
			return p.str(kp, &r.Salt, true)
		case "hash":
			return p.str(kp, &r.Hash, true)
		case "variants":
			return p.strings(kp, &r.Variants)
		case "default":
			return p.str(kp, &r.Default, true)
		case "sticky":
			return p.intField(kp, &r.Sticky)
		case "rules":
			t, off, err := p.next(kp)
			if err != nil || t == nil {
				return err
			}
			r.Rules = []Rule{}
			return p.array(kp, t, off, func(_ int, ip string) error {
				t, off, err := p.next(ip)
				if err != nil {
					return err
				}
				var ru Rule
				err = p.rule(ip, t, off, &ru)
				r.Rules = append(r.Rules, ru)
				return err
			})
		case "plan":
			t, off, err := p.next(kp)
			if err != nil || t == nil {
				return err
			}
			r.Plan = &Plan{}
			return p.plan(kp, t, off, r.Plan)
		}
		return p.unknown(kp, key, koff, "salt", "hash", "variants", "default", "sticky", "rules", "plan")
	})
}

func (p *parser) rule(path string, t json.Token, off int64, ru *Rule) error {
	return p.object(path, t, off, func(key, kp string, koff int64) error {
		switch key {
		case "name":
			return p.str(kp, &ru.Name, true)
		case "keys":
			return p.strings(kp, &ru.Keys)
		case "variant":
			return p.str(kp, &ru.Variant, true)
		case "split":
			t, off, err := p.next(kp)
			if err != nil || t == nil {
				return err
			}
			ru.Split = map[string]int{}
			return p.object(kp, t, off, func(v, vp string, _ int64) error {
				n, _, err := p.integer(vp, strconv.IntSize, false)
				ru.Split[v] = int(n)
				return err
			})
		case "when":
			t, off, err := p.next(kp)
			if err != nil || t == nil {
				return err
			}
			ru.When = []Condition{}
			return p.array(kp, t, off, func(_ int, ip string) error {
				t, off, err := p.next(ip)
				if err != nil {
					return err
				}
				var c Condition
				err = p.condition(ip, t, off, &c)
				ru.When = append(ru.When, c)
				return err
			})
		}
		return p.unknown(kp, key, koff, "name", "keys", "when", "variant", "split")
	})
}

func (p *parser) condition(path string, t json.Token, off int64, c *Condition) error {
	return p.object(path, t, off, func(key, kp string, koff int64) error {
		var err error
		switch key {
		case "attr":
			return p.str(kp, &c.Attr, true)
		case "op":
			return p.str(kp, &c.Op, true)
		case "value":
			c.Value, err = p.value(kp, true)
			return err
		case "min":
			c.Min, err = p.value(kp, true)
			return err
		case "max":
			c.Max, err = p.value(kp, true)
			return err
		case "values":
			t, off, err := p.next(kp)
			if err != nil || t == nil {
				return err
			}
			c.Values = []Value{}
			return p.array(kp, t, off, func(_ int, ip string) error {
				v, err := p.value(ip, false)
				if v != nil {
					c.Values = append(c.Values, *v)
				}
				return err
			})
		}
		return p.unknown(kp, key, koff, "attr", "op", "value", "values", "min", "max")
	})
}

func (p *parser) plan(path string, t json.Token, off int64, pl *Plan) error {
	return p.object(path, t, off, func(key, kp string, koff int64) error {
		switch key {
		case "canary":
			return p.str(kp, &pl.Canary, true)
		case "control":
			return p.str(kp, &pl.Control, true)
		case "epoch":
			return p.intField(kp, &pl.Epoch)
		case "rollback_all":
			t, off, err := p.next(kp)
			if err != nil {
				return err
			}
			switch x := t.(type) {
			case bool:
				pl.RollbackAll = x
				return nil
			case nil:
				return nil
			}
			return p.typeErr(kp, off, "true or false", t)
		case "gate":
			t, off, err := p.next(kp)
			if err != nil || t == nil {
				return err
			}
			return p.object(kp, t, off, func(key, gp string, koff int64) error {
				switch key {
				case "max_error_rate_increase":
					return p.float(gp, &pl.Gate.MaxErrorRateIncrease)
				case "max_p99_ratio":
					return p.float(gp, &pl.Gate.MaxP99Ratio)
				}
				return p.unknown(gp, key, koff, "max_error_rate_increase", "max_p99_ratio")
			})
		case "steps":
			t, off, err := p.next(kp)
			if err != nil || t == nil {
				return err
			}
			pl.Steps = []PlanStep{}
			return p.array(kp, t, off, func(_ int, ip string) error {
				var s PlanStep
				t, off, err := p.next(ip)
				if err == nil {
					err = p.step(ip, t, off, &s)
				}
				pl.Steps = append(pl.Steps, s)
				return err
			})
		}
		return p.unknown(kp, key, koff, "steps", "canary", "control", "gate", "epoch", "rollback_all")
	})
}

func (p *parser) step(path string, t json.Token, off int64, s *PlanStep) error {
	return p.object(path, t, off, func(key, kp string, koff int64) error {
		switch key {
		case "share":
			return p.intField(kp, &s.Share)
		case "min_samples":
			n, ok, err := p.integer(kp, 64, true)
			if ok {
				s.MinSamples = n
			}
			return err
		case "dwell":
			t, off, err := p.next(kp)
			if err != nil {
				return err
			}
			switch x := t.(type) {
			case nil:
				return nil
			case string:
				d, err := time.ParseDuration(x)
				if err != nil {
					return p.errAt(kp, off, fmt.Sprintf("bad duration %q (want a Go duration such as \"90s\", \"10m\" or \"1h30m\")", x))
				}
				s.Dwell = Duration(d)
				return nil
			}
			return p.typeErr(kp, off, "a duration string such as \"10m\"", t)
		}
		return p.unknown(kp, key, koff, "share", "dwell", "min_samples")
	})
}

// maxSigDigits is the most significant digits a gate threshold may have:
// every decimal of up to 15 digits in float64's normal range reads back
// from its float64 as itself, so the gate compares against exactly the
// decimal written.
const maxSigDigits = 15

// sigDigits counts the significant digits of a JSON number's mantissa.
func sigDigits(num string) int {
	if i := strings.IndexAny(num, "eE"); i >= 0 {
		num = num[:i]
	}
	num = strings.TrimPrefix(num, "-")
	num = strings.Replace(num, ".", "", 1)
	num = strings.TrimLeft(num, "0")
	num = strings.TrimRight(num, "0")
	return len(num)
}
