// Package jsontime provides a duration that JSON carries as Go duration text ("1200ms", "5m"), the
// form the admin APIs (cache policy, faults) read and write.
package jsontime

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Duration is a time.Duration written in JSON as Go duration text. Bare numbers are refused: a
// number of nanoseconds is never what a person typing a policy means.
type Duration time.Duration

// String writes the duration as Go duration text.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes the duration as text.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(time.Duration(d).String())), nil
}

// UnmarshalJSON reads duration text such as "1200ms".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`a duration must be a string such as "1200ms"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf(`%q is not a duration such as "1200ms"`, s)
	}
	*d = Duration(v)
	return nil
}
