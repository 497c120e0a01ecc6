package tlv

// DecodeCharged decodes like o.Unmarshal and also returns the bytes the decode charged to
// its memory budget, and the budget. After ErrMemoryLimit the charge is reported as the
// whole budget (the refused charge was never allocated). The memory tests of the external
// test package compare the charge with what the allocator counted.
func DecodeCharged(o DecodeOptions, data []byte, v any) (charged, budget int, err error) {
	var d decoder
	if err := o.init(&d, len(data)); err != nil {
		return 0, 0, err
	}
	budget = d.Memory
	err = d.unmarshal(data, v)
	if d.Memory < 0 {
		return budget, budget, err
	}
	return budget - d.Memory, budget, err
}
