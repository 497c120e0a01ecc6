package decstate

import "errors"

// The sentinels the state's charges return; tlvwire and tlv export them under the same
// names (the same values), with the other sentinels of decoding.
var (
	ErrTooManyElements = errors.New("tlv: too many elements")
	ErrMemoryLimit     = errors.New("tlv: memory budget exceeded")
)
