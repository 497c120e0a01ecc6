package tlvbench

import (
	"errors"

	"google.golang.org/protobuf/encoding/protowire"
)

// This file is the practical limit the generated tlv code is measured
// against: the protobuf wire format of pb/bench.proto, written by hand with
// protowire, with a size pass for nested lengths and no reflection. Map
// entries are written in Go's map order, as protobuf does by default.

// errPW is returned for any malformed protobuf input.
var errPW = errors.New("tlvbench: malformed protobuf input")

// PWMsg is Msg with room for the fields the hand-written decoder does not know.
type PWMsg struct {
	Msg
	Unknown []byte
}

func sizeInnerPW(in *Inner) int {
	n := 0
	if in.ID != 0 {
		n += 1 + protowire.SizeVarint(protowire.EncodeZigZag(in.ID))
	}
	if in.Name != "" {
		n += 1 + protowire.SizeBytes(len(in.Name))
	}
	return n
}

func appendInnerPW(b []byte, in *Inner) []byte {
	if in.ID != 0 {
		b = append(b, 1<<3|byte(protowire.VarintType))
		b = protowire.AppendVarint(b, protowire.EncodeZigZag(in.ID))
	}
	if in.Name != "" {
		b = append(b, 2<<3|2)
		b = protowire.AppendString(b, in.Name)
	}
	return b
}

// AppendPW appends the protobuf encoding of m (and its unknown bytes) to b.
func AppendPW(b []byte, m *PWMsg) []byte {
	if m.UID != 0 {
		b = append(b, 1<<3|byte(protowire.VarintType))
		b = protowire.AppendVarint(b, m.UID)
	}
	if m.Text != "" {
		b = append(b, 2<<3|2)
		b = protowire.AppendString(b, m.Text)
	}
	if len(m.Payload) > 0 {
		b = append(b, 3<<3|2)
		b = protowire.AppendBytes(b, m.Payload)
	}
	if len(m.IDs) > 0 {
		n := 0
		for _, v := range m.IDs {
			n += protowire.SizeVarint(protowire.EncodeZigZag(v))
		}
		b = append(b, 4<<3|2)
		b = protowire.AppendVarint(b, uint64(n))
		for _, v := range m.IDs {
			b = protowire.AppendVarint(b, protowire.EncodeZigZag(v))
		}
	}
	if m.Inner != nil {
		b = append(b, 5<<3|2)
		b = protowire.AppendVarint(b, uint64(sizeInnerPW(m.Inner)))
		b = appendInnerPW(b, m.Inner)
	}
	for i := range m.Items {
		b = append(b, 6<<3|2)
		b = protowire.AppendVarint(b, uint64(sizeInnerPW(&m.Items[i])))
		b = appendInnerPW(b, &m.Items[i])
	}
	for k, v := range m.Attrs {
		b = append(b, 7<<3|2)
		b = protowire.AppendVarint(b, uint64(2+protowire.SizeBytes(len(k))+protowire.SizeBytes(len(v))))
		b = append(b, 1<<3|2)
		b = protowire.AppendString(b, k)
		b = append(b, 2<<3|2)
		b = protowire.AppendString(b, v)
	}
	return append(b, m.Unknown...)
}

func consumeInnerPW(b []byte, in *Inner) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errPW
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return errPW
			}
			in.ID = protowire.DecodeZigZag(v)
			b = b[n:]
		case num == 2 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return errPW
			}
			in.Name = string(v)
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return errPW
			}
			b = b[n:]
		}
	}
	return nil
}

// UnmarshalPW decodes the protobuf encoding b into m, keeping unknown fields.
func UnmarshalPW(b []byte, m *PWMsg) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errPW
		}
		field := b
		b = b[n:]
		if typ == protowire.VarintType && num == 1 {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return errPW
			}
			m.UID = v
			b = b[n:]
			continue
		}
		if typ != protowire.BytesType || num < 2 || num > 7 {
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return errPW
			}
			b = b[n:]
			m.Unknown = append(m.Unknown, field[:len(field)-len(b)]...)
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return errPW
		}
		b = b[n:]
		switch num {
		case 2:
			m.Text = string(v)
		case 3:
			m.Payload = append([]byte(nil), v...)
		case 4:
			if m.IDs == nil {
				m.IDs = make([]int64, 0, len(v)) // at most one value per byte
			}
			for len(v) > 0 {
				x, n := protowire.ConsumeVarint(v)
				if n < 0 {
					return errPW
				}
				m.IDs = append(m.IDs, protowire.DecodeZigZag(x))
				v = v[n:]
			}
		case 5:
			m.Inner = new(Inner)
			if err := consumeInnerPW(v, m.Inner); err != nil {
				return err
			}
		case 6:
			m.Items = append(m.Items, Inner{})
			if err := consumeInnerPW(v, &m.Items[len(m.Items)-1]); err != nil {
				return err
			}
		case 7:
			var key, val string
			for len(v) > 0 {
				num, typ, n := protowire.ConsumeTag(v)
				if n < 0 || typ != protowire.BytesType {
					return errPW
				}
				v = v[n:]
				s, n := protowire.ConsumeBytes(v)
				if n < 0 {
					return errPW
				}
				v = v[n:]
				switch num {
				case 1:
					key = string(s)
				case 2:
					val = string(s)
				}
			}
			if m.Attrs == nil {
				m.Attrs = make(map[string]string)
			}
			m.Attrs[key] = val
		}
	}
	return nil
}
