package cfapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode"
	"unicode/utf8"
)

// ErrAmbiguousKey is matched by the error of [CheckKeys] (and so of
// [DecodeStrict]) for JSON whose object repeats a key, or holds two keys
// that differ only in case. encoding/json keeps the last of repeated keys
// and matches field names regardless of case, so such a body can say one
// thing to a reader of its text and another to the decoder.
var ErrAmbiguousKey = errors.New("ambiguous JSON key")

// CheckKeys reports an error wrapping [ErrAmbiguousKey] if any object in
// data, at any depth, has two keys equal under Unicode case folding (as
// encoding/json compares them), and any syntax error of data. It quotes at
// most the first 64 bytes of the key.
func CheckKeys(data []byte) error {
	type frame struct {
		keys    map[string]struct{} // nil for an array
		wantKey bool
	}
	var stack []*frame
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].keys != nil {
			stack[n-1].wantKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if len(stack) > 0 {
				return io.ErrUnexpectedEOF
			}
			return nil
		}
		if err != nil {
			return err
		}
		if n := len(stack); n > 0 && stack[n-1].wantKey {
			if k, ok := tok.(string); ok {
				top := stack[n-1]
				f := foldKey(k)
				if _, dup := top.keys[f]; dup {
					return fmt.Errorf("%w: %.64q appears twice in one object (keys match regardless of case)", ErrAmbiguousKey, k)
				}
				top.keys[f] = struct{}{}
				top.wantKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{keys: map[string]struct{}{}, wantKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}

// foldKey maps s to one representative of the strings equal to it under
// simple Unicode case folding: each rune becomes the smallest rune of its
// folding orbit.
func foldKey(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		b = utf8.AppendRune(b, min)
	}
	return string(b)
}

// DecodeStrict is [Decode] for a body that must also pass [CheckKeys]: a
// repeated or case-variant key anywhere in it is an error wrapping
// [ErrAmbiguousKey] (and not [ErrNotEnvelope]).
func DecodeStrict(body []byte) (Envelope, error) {
	env, err := Decode(body)
	if err != nil {
		return Envelope{}, err
	}
	if err := CheckKeys(body); err != nil {
		return Envelope{}, err
	}
	return env, nil
}
