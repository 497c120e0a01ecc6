package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strconv"

	"github.com/bulwark-go/bulwark/overload"
	"github.com/bulwark-go/bulwark/tlv"
)

// apiClient is a chat client over HTTP. Version 1 clients encode
// MessageV1, version 2 clients MessageV2.
type apiClient struct {
	base string
	http *http.Client
}

// newAPIClient returns a client of the service at base. Its transport goes
// through an overload Gate: requests that carry a priority (the load
// generator's) and that the front's last reported admission level would
// refuse fail at once with an overload.ShedError, without being sent, so a
// 4× overload costs the front the requests it can serve plus a probe per
// 200 ms (DAGOR's collaborative admission).
func newAPIClient(base string, transport http.RoundTripper) (*apiClient, error) {
	gate, err := overload.NewGate(overload.GateConfig{})
	if err != nil {
		return nil, err
	}
	return &apiClient{base: base, http: &http.Client{Transport: overload.RoundTripper(gate, transport)}}, nil
}

// reply is what a call got back.
type reply struct {
	code    int
	body    []byte
	variant string // the handler version that served it; "" if none did
}

// shed reports a refusal by the overload middleware: a 503 no handler made.
func (r reply) shed() bool { return r.code == http.StatusServiceUnavailable && r.variant == "" }

func (c *apiClient) do(ctx context.Context, method, path, user string, body []byte) (reply, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return reply{}, err
	}
	req.Header.Set(UserHeader, user)
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	return reply{code: resp.StatusCode, body: b, variant: resp.Header.Get(VariantHeader)}, err
}

// outgoing is a message a load-generator client sends; everything in it
// follows from seq, user and the client version, so a read can check it.
type outgoing struct {
	seq    uint64
	user   string
	client uint8 // 1 or 2
}

func (o outgoing) id() string   { return "m" + strconv.FormatUint(o.seq, 10) }
func (o outgoing) room() string { return "room-" + strconv.FormatUint(o.seq%50, 10) }
func (o outgoing) text() string { return fmt.Sprintf("message %d from %s", o.seq, o.user) }
func (o outgoing) lang() string { return [...]string{"en", "zh-CN", "de", "pt-BR"}[o.seq%4] }
func (o outgoing) reactions() map[string]int64 {
	return map[string]int64{"+1": int64(o.seq%7 + 1), "heart": int64(o.seq % 3)}
}

func (o outgoing) encode() ([]byte, error) {
	if o.client == 1 {
		return tlv.Marshal(&MessageV1{ID: o.id(), Room: o.room(), From: o.user, Text: o.text()})
	}
	return tlv.Marshal(&MessageV2{ID: o.id(), Room: o.room(), From: o.user, Text: o.text(), Lang: o.lang(), Reactions: o.reactions()})
}

var (
	errContent = errors.New("content differs from the acknowledged write")
	errTLV     = errors.New("unknown fields not kept")
)

// check reads body, a stored message, as a client of version reader would,
// against the acknowledged write o. errContent means the acknowledged write
// is not what the store returned (lost); errTLV means the bytes decode but
// a v1 reader could not carry v2's fields through, or a v2 reader lost them.
func (o outgoing) check(body []byte, reader uint8) error {
	if reader == 1 {
		var m MessageV1
		if err := decodeOpts.Unmarshal(body, &m); err != nil {
			return fmt.Errorf("%w: %v", errTLV, err)
		}
		if m.ID != o.id() || m.From != o.user || m.Text != o.text() {
			return errContent
		}
		// The old client writes back what it read: byte for byte, v2's
		// language and reactions included.
		again, err := tlv.Marshal(&m)
		if err != nil || !bytes.Equal(again, body) || (o.client == 2) != (len(m.Unknown) > 0) {
			return errTLV
		}
		return nil
	}
	var m MessageV2
	if err := decodeOpts.Unmarshal(body, &m); err != nil {
		return fmt.Errorf("%w: %v", errTLV, err)
	}
	if m.ID != o.id() || m.From != o.user || m.Text != o.text() {
		return errContent
	}
	if o.client == 2 && (m.Lang != o.lang() || !maps.Equal(m.Reactions, o.reactions())) {
		return errTLV
	}
	if o.client == 1 && (m.Lang != "" || len(m.Reactions) != 0) {
		return errTLV
	}
	return nil
}

// tlvDemo shows an old client round-tripping a field it does not know: a
// v2 client sends a message with a language and reactions; a v1 client of
// the same user reads it (keeping those fields as unknown bytes), edits the
// text and sends it back; the v2 client reads the edit with its fields
// intact. user should be one the gray release serves with the v1 handlers,
// so the old server carries the new fields through as well.
func tlvDemo(ctx context.Context, c *apiClient, user string, out io.Writer) error {
	id := "tlv-demo-" + user
	sent := MessageV2{ID: id, From: user, Text: "hello from the new app", Lang: "zh-CN", Reactions: map[string]int64{"+1": 3}}
	b, err := tlv.Marshal(&sent)
	if err != nil {
		return err
	}
	must := func(what string) func(reply, error) (reply, error) {
		return func(r reply, err error) (reply, error) {
			if err == nil && r.code != http.StatusOK {
				err = fmt.Errorf("HTTP %d: %s", r.code, bytes.TrimSpace(r.body))
			}
			if err != nil {
				return r, fmt.Errorf("tlv demo: %s: %w", what, err)
			}
			return r, nil
		}
	}
	r, err := must("v2 client sends")(c.do(ctx, http.MethodPost, "/api/send", user, b))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "tlv: a v2 client sent %s with lang=%q reactions=%v (served by %s)\n", id, sent.Lang, sent.Reactions, r.variant)

	r, err = must("v1 client reads")(c.do(ctx, http.MethodGet, "/api/message?id="+url.QueryEscape(id), user, nil))
	if err != nil {
		return err
	}
	var old MessageV1
	if err := decodeOpts.Unmarshal(r.body, &old); err != nil {
		return fmt.Errorf("tlv demo: v1 client decodes: %w", err)
	}
	if len(old.Unknown) == 0 {
		return errors.New("tlv demo: the v1 client kept no unknown fields")
	}
	fmt.Fprintf(out, "tlv: a v1 client read it: text=%q, %d bytes of fields it does not know kept\n", old.Text, len(old.Unknown))
	old.Text = "edited on the old app"
	b, err = tlv.Marshal(&old)
	if err != nil {
		return err
	}
	if _, err = must("v1 client sends its edit")(c.do(ctx, http.MethodPost, "/api/send", user, b)); err != nil {
		return err
	}

	r, err = must("v2 client reads the edit")(c.do(ctx, http.MethodGet, "/api/message?id="+url.QueryEscape(id), user, nil))
	if err != nil {
		return err
	}
	var back MessageV2
	if err := decodeOpts.Unmarshal(r.body, &back); err != nil {
		return fmt.Errorf("tlv demo: v2 client decodes: %w", err)
	}
	if back.Text != old.Text || back.Lang != sent.Lang || !maps.Equal(back.Reactions, sent.Reactions) {
		return fmt.Errorf("tlv demo: the v2 client read text=%q lang=%q reactions=%v after the old client's edit", back.Text, back.Lang, back.Reactions)
	}
	fmt.Fprintf(out, "tlv: the v2 client reads the old client's edit: text=%q lang=%q reactions=%v: nothing lost\n", back.Text, back.Lang, back.Reactions)
	return nil
}
