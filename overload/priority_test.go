package overload

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The SipHash-2-4 reference vector: key 00..0f, message 00..0e (15 bytes).
func TestSipHashReferenceVector(t *testing.T) {
	var k [16]byte
	for i := range k {
		k[i] = byte(i)
	}
	h := NewUserHash(k)
	var prefix uint64
	for i := range 8 {
		prefix |= uint64(i) << (8 * i)
	}
	msg := string([]byte{8, 9, 10, 11, 12, 13, 14})
	assert.Equal(t, uint64(0xa129ca6149be45e5), sipHash24(h.k0, h.k1, prefix, msg))
}

func TestUserPriority(t *testing.T) {
	hour := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	t.Run("stable within an hour and zone-independent", func(t *testing.T) {
		for i := range 200 {
			id := "user-" + strconv.Itoa(i)
			a := UserPriority(id, hour)
			assert.Equal(t, a, UserPriority(id, hour.Add(59*time.Minute+59*time.Second)))
			assert.Equal(t, a, UserPriority(id, hour.In(time.FixedZone("X", 5*3600))))
			assert.Less(t, a, uint8(UserLevels))
		}
	})
	t.Run("changes from hour to hour", func(t *testing.T) {
		changed := 0
		for i := range 1000 {
			id := "user-" + strconv.Itoa(i)
			if UserPriority(id, hour) != UserPriority(id, hour.Add(time.Hour)) {
				changed++
			}
		}
		assert.Greater(t, changed, 950, "about 127/128 of users should move")
	})
	t.Run("spreads users evenly", func(t *testing.T) {
		var counts [UserLevels]int
		const n = 128 * 200
		for i := range n {
			counts[UserPriority("u"+strconv.Itoa(i), hour)]++
		}
		for lvl, c := range counts {
			assert.InDelta(t, 200, c, 70, "level %d", lvl)
		}
	})
	t.Run("key matters", func(t *testing.T) {
		h := NewUserHash([16]byte{1})
		same := 0
		for i := range 1000 {
			id := "user-" + strconv.Itoa(i)
			if h.Priority(id, hour) == UserPriority(id, hour) {
				same++
			}
		}
		assert.Less(t, same, 50)
	})
	t.Run("before 1970 floors the hour", func(t *testing.T) {
		a := time.Unix(-3600, 0)
		assert.Equal(t, UserPriority("x", a), UserPriority("x", time.Unix(-1, 0)))
	})
	t.Run("empty and long ids", func(t *testing.T) {
		assert.Less(t, UserPriority("", hour), uint8(UserLevels))
		long := string(make([]byte, 1000))
		assert.Less(t, UserPriority(long, hour), uint8(UserLevels))
	})
}

func TestPriorityAndLevelText(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"0.0", true}, {"3.127", true}, {"255.255", true},
		{"", false}, {"3", false}, {"256.1", false}, {"1.256", false}, {"01.2", false},
		{"-1.2", false}, {"1.2.3", false}, {" 1.2", false}, {"1.", false}, {".1", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := ParsePriority(tt.in)
			l, lerr := ParseLevel(tt.in)
			if !tt.ok {
				require.Error(t, err)
				require.Error(t, lerr)
				var pe *ParseError
				assert.ErrorAs(t, err, &pe)
				return
			}
			require.NoError(t, err)
			require.NoError(t, lerr)
			assert.Equal(t, tt.in, p.String())
			assert.Equal(t, tt.in, l.String())
		})
	}
}

func TestLevelEncodings(t *testing.T) {
	l := Level{Business: 2, User: 77}
	b, err := l.MarshalBinary()
	require.NoError(t, err)
	assert.Equal(t, []byte{2, 77}, b)
	var got Level
	require.NoError(t, got.UnmarshalBinary(b))
	assert.Equal(t, l, got)
	assert.Error(t, got.UnmarshalBinary([]byte{1}))
	assert.Error(t, got.UnmarshalBinary([]byte{1, 2, 3}))

	assert.Equal(t, l, LevelFromUint16(l.Uint16()))
	txt, err := l.MarshalText()
	require.NoError(t, err)
	var lt Level
	require.NoError(t, lt.UnmarshalText(txt))
	assert.Equal(t, l, lt)
	assert.Error(t, lt.UnmarshalText([]byte("x")))

	assert.True(t, l.Admits(Priority{Business: 1, User: 255}))
	assert.True(t, l.Admits(Priority{Business: 2, User: 77}))
	assert.False(t, l.Admits(Priority{Business: 2, User: 78}))
	assert.False(t, l.Admits(Priority{Business: 3}))
	assert.True(t, LevelOpen.Admits(LowestPriority))
}

func TestShedErrorMessage(t *testing.T) {
	e := &ShedError{Reason: ReasonLevel, Level: Level{Business: 1, User: 2}, RetryAfter: time.Second}
	assert.Equal(t, "overload: request shed: below admission level (level 1.2), retry after 1s", e.Error())
	rl := &ShedError{Reason: ReasonRateLimit, Level: LevelOpen, RetryAfter: time.Second}
	assert.Equal(t, "overload: request shed: rate limited, retry after 1s", rl.Error())
	assert.ErrorIs(t, e, ErrShed)
	assert.Equal(t, "reason(99)", Reason(99).String())
}
