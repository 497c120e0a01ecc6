package logging

import (
	"fmt"
	"strconv"
	"strings"
)

// parseLogfmt splits one slog text line into key/value pairs, unquoting
// quoted keys and values.
func parseLogfmt(line string) ([][2]string, error) {
	var out [][2]string
	i := 0
	next := func(stop byte) (string, error) {
		if i < len(line) && line[i] == '"' {
			j := i + 1
			for j < len(line) {
				if line[j] == '\\' {
					j += 2
					continue
				}
				if line[j] == '"' {
					break
				}
				j++
			}
			if j >= len(line) {
				return "", fmt.Errorf("unterminated quote at %d", i)
			}
			s, err := strconv.Unquote(line[i : j+1])
			i = j + 1
			return s, err
		}
		j := i
		for j < len(line) && line[j] != stop && line[j] != ' ' {
			j++
		}
		s := line[i:j]
		i = j
		return s, nil
	}
	for i < len(line) {
		k, err := next('=')
		if err != nil {
			return nil, err
		}
		if i >= len(line) || line[i] != '=' {
			return nil, fmt.Errorf("no '=' after key %q", k)
		}
		i++
		v, err := next(' ')
		if err != nil {
			return nil, err
		}
		out = append(out, [2]string{k, v})
		if i < len(line) {
			if line[i] != ' ' {
				return nil, fmt.Errorf("junk at %d", i)
			}
			i++
		}
	}
	if strings.ContainsAny(line, "\n\r") {
		return nil, fmt.Errorf("raw line break")
	}
	return out, nil
}
