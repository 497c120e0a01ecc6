package quorum

import (
	"fmt"
	"reflect"
)

// checkReplicas refuses a nil replica (also a typed nil such as a nil
// *memreplica.Replica), the same replica twice (the same pointer or the same
// non-empty StoreIdentifier.StoreID, also under wrappers that expose it with
// an Inner() Replica method), and a
// replica whose Zone, NonBlocking or Inner panics; it fills
// zones and nonBlocking. Nothing a caller passes makes New panic.
func checkReplicas(replicas []Replica, zones []string, nonBlocking []bool) error {
	ids := make(map[any]int, len(replicas))
	for i, r := range replicas {
		if isNil(r) {
			return fmt.Errorf("%w: replica %d is nil", ErrConfig, i)
		}
		d, err := describe(r, i)
		if err != nil {
			return err
		}
		zones[i], nonBlocking[i] = d.zone, d.nonBlocking
		for _, id := range d.ids {
			if j, dup := ids[id]; dup && j != i {
				if sid, ok := id.(storeID); ok {
					return fmt.Errorf("%w: replicas %d and %d are the same store %q (each copy must be distinct)", ErrConfig, j, i, string(sid))
				}
				return fmt.Errorf("%w: replicas %d and %d are the same store (each copy must be distinct)", ErrConfig, j, i)
			}
			ids[id] = i
		}
	}
	return nil
}

// isNil reports whether r is nil or an interface holding a nil pointer,
// map, slice, channel or func.
func isNil(r Replica) bool {
	if r == nil {
		return true
	}
	switch v := reflect.ValueOf(r); v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Chan, reflect.Func, reflect.Interface, reflect.UnsafePointer:
		return v.IsNil()
	}
	return false
}

// description is what New learns about one replica.
type description struct {
	zone        string
	nonBlocking bool
	ids         []any // the pointers and storeIDs of r and of the replicas it wraps
}

// storeID is a StoreIdentifier's identity, a type of its own so that it
// never equals a pointer key.
type storeID string

// describe calls r's optional methods, turning a panic into ErrConfig.
func describe(r Replica, i int) (d description, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: replica %d panicked in New: %v", ErrConfig, i, p)
		}
	}()
	if z, ok := r.(Zoned); ok {
		d.zone = z.Zone()
	}
	if nb, ok := r.(NonBlocking); ok {
		d.nonBlocking = nb.NonBlocking()
	}
	// Wrappers (quorumtest.Faulty) expose the replica they wrap: two
	// wrappers of one store are one store. Depth-bounded against cycles.
	for range 8 {
		if isNil(r) {
			break
		}
		switch reflect.TypeOf(r).Kind() {
		case reflect.Pointer, reflect.Map, reflect.Chan, reflect.UnsafePointer:
			// Equal values of other kinds (two empty structs) need not be
			// one store, so only references are compared.
			d.ids = append(d.ids, r)
		}
		if si, ok := r.(StoreIdentifier); ok {
			if id := si.StoreID(); id != "" {
				d.ids = append(d.ids, storeID(id))
			}
		}
		w, ok := r.(interface{ Inner() Replica })
		if !ok {
			break
		}
		r = w.Inner()
	}
	return d, nil
}
