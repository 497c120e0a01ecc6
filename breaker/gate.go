package breaker

// gate is a Group's guard on how many of its breakers may be open at once.
type gate interface {
	// acquire reserves an open slot, or reports that none is left.
	acquire() bool
	// force counts an open breaker regardless of the limit (Trip).
	force()
	// release returns a slot when an open breaker closes.
	release()
}
