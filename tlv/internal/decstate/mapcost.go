package decstate

import (
	"math"
	"reflect"
	"unsafe"
)

// The memory a Go map takes is not its entries times their size: the runtime (Swiss
// tables, Go 1.24 onwards; internal/runtime/maps) allocates a header, then groups of 8
// slots, grows a table by doubling it and splits full 1024-slot tables in two, and keeps
// a value larger than 128 bytes out of line, one allocation per entry. A decoder that
// charged only entries × (key + value) let a message of many one-entry maps allocate
// several times the memory bound (issue 14). The functions below charge what the runtime
// will allocate, allocation by allocation (so Alloc's size-class rounding applies to each),
// before the decoder lets the map grow. The layout constants mirror the runtime's; the
// generative memory test (TestMemoryBoundSearch) checks the charges against the
// allocator's own count, so a runtime that changes them fails that test, not users.

const (
	mapGroupSlots    = 8    // slots per group (abi.MapGroupSlots)
	mapMaxTableCap   = 1024 // slots of the largest table before it splits (maxTableCapacity)
	mapMaxInlineSize = 128  // larger keys and values are stored out of line (abi.MapMaxElemBytes)
	mapTableFull     = mapMaxTableCap * 7 / 8
	// A full table (896 entries) splits in two whose loads are binomial around 448 (6
	// standard deviations: 90), so each further split needs at least 350 inserts into the
	// halves; and no table of a map the decoders build starts below 190 entries unless the
	// map is small. These bound how often a growing map splits a table.
	mapSplitEvery = 350
	mapMinLoad    = 190
)

// rtMap and rtTable mirror the layout (so the sizes, on every platform) of the runtime's
// map header and table structs.
type rtMap struct {
	_ uint64 // used
	_ uintptr
	_ unsafe.Pointer // directory
	_ int
	_ [4]uint8 // depth, shift, writing, tombstones
	_ uint64
}

type rtTable struct {
	_ [3]uint16 // used, capacity, growthLeft
	_ uint8     // localDepth
	_ int
	_ unsafe.Pointer // groups
	_ uint64
}

const PtrSize = int(unsafe.Sizeof(uintptr(0)))

// MapLayout is what a map type's memory depends on.
type MapLayout struct {
	group    int // bytes of one group: 8 control bytes and 8 slots
	outOfKey int // bytes allocated per new entry for a key kept out of line, else 0
	outOfVal int // the same for the value
}

func alignUp(n, a int) int { return (n + a - 1) &^ (a - 1) }

// layoutOf computes the group layout the runtime derives for a map with keys and values
// of these sizes and alignments (reflect's groupAndSlotOf).
func LayoutOf(keySize, keyAlign, valSize, valAlign int) MapLayout {
	var l MapLayout
	if keySize > mapMaxInlineSize {
		l.outOfKey, keySize, keyAlign = keySize, PtrSize, PtrSize
	}
	if valSize > mapMaxInlineSize {
		l.outOfVal, valSize, valAlign = valSize, PtrSize, PtrSize
	}
	slotAlign := max(keyAlign, valAlign, 1)
	end := alignUp(keySize, max(valAlign, 1)) + valSize
	if valSize == 0 {
		end++ // a zero-size last field is padded, so that its address stays inside the slot
	}
	slot := alignUp(end, slotAlign)
	l.group = alignUp(8+mapGroupSlots*slot, max(slotAlign, int(unsafe.Alignof(uint64(0)))))
	return l
}

func LayoutOfTypes(k, v reflect.Type) MapLayout {
	return LayoutOf(int(k.Size()), k.Align(), int(v.Size()), v.Align())
}

// allocTable charges a table of capacity slots: its struct and its groups.
func (d *State) allocTable(l MapLayout, capacity int) error {
	if err := d.Alloc(int(unsafe.Sizeof(rtTable{}))); err != nil {
		return err
	}
	return d.Alloc(capacity / mapGroupSlots * l.group)
}

// allocNewMap charges make(map, hint) for hint ≥ 1 and its filling with hint entries:
// the header, the group a small map allocates at its first insert, or the directory and
// tables NewMap allocates for a larger hint, and the tables that may overflow while the
// hint's entries go in.
func (d *State) allocNewMap(l MapLayout, hint int) error {
	if err := d.Alloc(int(unsafe.Sizeof(rtMap{}))); err != nil {
		return err
	}
	if hint <= mapGroupSlots {
		return d.Alloc(l.group)
	}
	target := hint * 8 / 7
	dir := 1
	for dir*mapMaxTableCap < target {
		dir *= 2
	}
	capacity := mapGroupSlots
	for capacity < target/dir {
		capacity *= 2
	}
	if err := d.Alloc(dir * PtrSize); err != nil {
		return err
	}
	for range dir {
		if err := d.allocTable(l, capacity); err != nil {
			return err
		}
	}
	if dir == 1 {
		return nil // one table sized for the hint: it does not grow while filled
	}
	// Several tables share the entries by hash: one may receive more than its 7/8 and
	// grow (or split, at full size) before the map holds hint entries.
	k := overflowingTables(hint, dir, capacity*7/8)
	if k == 0 {
		return nil
	}
	if err := d.Alloc(2 * dir * PtrSize); err != nil { // the first split doubles the directory
		return err
	}
	for range k {
		if capacity < mapMaxTableCap {
			if err := d.allocTable(l, 2*capacity); err != nil {
				return err
			}
			continue
		}
		if err := d.allocSplit(l); err != nil {
			return err
		}
	}
	return nil
}

// overflowingTables bounds how many of dir tables receive more than limit of n entries
// spread uniformly: the expected number E from a Chernoff bound on the binomial tail,
// then E + 6√E + 1 (so more is rarer than one in a million), none when E < 10⁻⁹.
func overflowingTables(n, dir, limit int) int {
	mu := float64(n) / float64(dir)
	t := float64(limit + 1)
	if t <= mu {
		return dir
	}
	p := math.Exp(-(t*math.Log(t/mu) - t + mu))
	e := float64(dir) * p
	if e < 1e-9 {
		return 0
	}
	return min(dir, int(math.Ceil(e+6*math.Sqrt(e)+1)))
}

// allocSplit charges a table split: two full tables, and a share of a directory that
// doubles now and then (about 4 pointers per table; doubling costs twice that).
func (d *State) allocSplit(l MapLayout) error {
	if err := d.allocTable(l, mapMaxTableCap); err != nil {
		return err
	}
	if err := d.allocTable(l, mapMaxTableCap); err != nil {
		return err
	}
	return d.Alloc(16 * PtrSize)
}

// allocMapGrowth charges the allocations a map of length have may make while add more
// entries go in, whatever its capacity: up to 896 entries each growth point passed (the
// first group; a small map becoming a table at 9 entries; a table doubling when 7/8 full),
// which a presized single table passes a subset of; beyond, table splits: one per 350
// inserts, plus one for every table the map may already hold, any of which may be close
// to full, and a doubling of the directory.
func (d *State) allocMapGrowth(l MapLayout, have, add int) error {
	to := have + add
	if have < 1 && to >= 1 {
		if err := d.Alloc(l.group); err != nil {
			return err
		}
	}
	if have < mapGroupSlots+1 && to >= mapGroupSlots+1 {
		if err := d.Alloc(PtrSize); err != nil {
			return err
		}
		if err := d.allocTable(l, 2*mapGroupSlots); err != nil {
			return err
		}
	}
	for c := 2 * mapGroupSlots; c < mapMaxTableCap; c *= 2 {
		if at := c*7/8 + 1; have < at && to >= at {
			if err := d.allocTable(l, 2*c); err != nil {
				return err
			}
		}
	}
	if to <= mapTableFull {
		return nil
	}
	tables := (have + mapMinLoad - 1) / mapMinLoad
	if err := d.Alloc(8 * (tables + 1) * PtrSize); err != nil {
		return err
	}
	for range tables + (add+mapSplitEvery-1)/mapSplitEvery {
		if err := d.allocSplit(l); err != nil {
			return err
		}
	}
	return nil
}

// allocMapEntries charges what n new entries allocate besides the table: their keys and
// values kept out of line.
func (d *State) allocMapEntries(l MapLayout, n int) error {
	for _, size := range [2]int{l.outOfKey, l.outOfVal} {
		if size == 0 {
			continue
		}
		for i := 0; i < n; i++ {
			if err := d.Alloc(size); err != nil {
				return err
			}
		}
	}
	return nil
}

// ChargeMap charges adding n entries to a map of length have, created now if isNew.
func (d *State) ChargeMap(l MapLayout, isNew bool, have, n int) error {
	var err error
	if isNew {
		err = d.allocNewMap(l, max(n, 1))
	} else {
		err = d.allocMapGrowth(l, have, n)
	}
	if err != nil {
		return err
	}
	return d.allocMapEntries(l, n)
}
