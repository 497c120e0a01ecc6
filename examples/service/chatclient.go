package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bulwark-go/bulwark/tlv"
)

// clientFlags are the -send and -read flags: the command as a chat app of
// version 1 (-v1) or 2, for trying the service from a shell (curl cannot
// build a tlv body).
type clientFlags struct {
	send, read, as, id, from, lang string
	v1                             bool
}

// runClient sends one message or reads one back from the service at addr
// and prints what the app got, as the app's version decodes it.
func runClient(f clientFlags, addr string, stdout, stderr io.Writer) int {
	switch {
	case f.send != "" && f.read != "":
		fmt.Fprintln(stderr, "service: -send and -read are two commands; give one")
		return exitCannotStart
	case f.as == "":
		fmt.Fprintln(stderr, "service: -as USER is required with -send and -read (it becomes the "+UserHeader+" header)")
		return exitCannotStart
	}
	base := addr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	api := &apiClient{base: strings.TrimSuffix(base, "/"), http: &http.Client{Transport: transport}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	version := "v2"
	if f.v1 {
		version = "v1"
	}

	if f.send != "" {
		id := f.id
		if id == "" {
			id = "m" + strconv.FormatInt(time.Now().UnixMilli(), 36)
		}
		var body []byte
		var err error
		if f.v1 {
			body, err = tlv.Marshal(&MessageV1{ID: id, From: f.as, Text: f.send})
		} else {
			body, err = tlv.Marshal(&MessageV2{ID: id, From: f.as, Text: f.send, Lang: f.lang, Reactions: map[string]int64{"+1": 1}})
		}
		if err != nil {
			fmt.Fprintln(stderr, "service: encode:", err)
			return exitFailed
		}
		r, err := api.do(ctx, http.MethodPost, "/api/send", f.as, body)
		if code := clientFailed(r, err, stderr); code != 0 {
			return code
		}
		var ack SendAck
		if err := decodeOpts.Unmarshal(r.body, &ack); err != nil {
			fmt.Fprintln(stderr, "service: the answer is not a SendAck:", err)
			return exitFailed
		}
		fmt.Fprintf(stdout, "%s (%s app) sent message id %s, stored as version %d (served by the %s handlers)\n", f.as, version, ack.ID, ack.Version, r.variant)
		fmt.Fprintf(stdout, "read it back: go run ./examples/service -addr %s -read %s -as %s -from %s\n", addr, ack.ID, f.as, f.as)
		return exitOK
	}

	from := f.from
	if from == "" {
		from = f.as
	}
	r, err := api.do(ctx, http.MethodGet, "/api/message?id="+url.QueryEscape(f.read)+"&from="+url.QueryEscape(from), f.as, nil)
	if code := clientFailed(r, err, stderr); code != 0 {
		return code
	}
	if f.v1 {
		var m MessageV1
		if err := decodeOpts.Unmarshal(r.body, &m); err != nil {
			fmt.Fprintln(stderr, "service: decode:", err)
			return exitFailed
		}
		fmt.Fprintf(stdout, "%s (v1 app) read %s/%s: text=%q sent %s; %d bytes of fields a v1 app does not know, kept\n",
			f.as, m.From, m.ID, m.Text, m.SentAt.Format(time.RFC3339), len(m.Unknown))
		return exitOK
	}
	var m MessageV2
	if err := decodeOpts.Unmarshal(r.body, &m); err != nil {
		fmt.Fprintln(stderr, "service: decode:", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "%s (v2 app) read %s/%s: text=%q lang=%q reactions=%v sent %s\n",
		f.as, m.From, m.ID, m.Text, m.Lang, m.Reactions, m.SentAt.Format(time.RFC3339))
	return exitOK
}

func clientFailed(r reply, err error, stderr io.Writer) int {
	switch {
	case err != nil:
		fmt.Fprintln(stderr, "service:", err)
		return exitFailed
	case r.code != http.StatusOK:
		fmt.Fprintf(stderr, "service: HTTP %d: %s\n", r.code, strings.TrimSpace(string(r.body)))
		return exitFailed
	}
	return exitOK
}
