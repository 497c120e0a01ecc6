package logging

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestHotPathsDoNotAllocate(t *testing.T) {
	log := New(io.Discard, nil)
	ctx := WithKey(context.Background(), "bob")
	err := errors.New("boom")
	assert.Zero(t, testing.AllocsPerRun(1000, func() {
		log.DebugContext(ctx, "request done", "user", "bob", "n", 7, "ok", true, "dur", time.Millisecond, "err", err)
	}), "disabled debug")
	h := log.Handler().(*Handler)
	for i := range 1000 {
		h.Dyes().Add(fmt.Sprint("user-", i), time.Hour)
	}
	assert.Zero(t, testing.AllocsPerRun(1000, func() { _ = h.Enabled(ctx, slog.LevelDebug) }), "dye check")
	s := NewHandler(slog.DiscardHandler, &Options{Sampling: &Sampling{}})
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "request done", 0)
	assert.Zero(t, testing.AllocsPerRun(1000, func() { _ = s.Handle(context.Background(), r) }), "sampling decision")
}
