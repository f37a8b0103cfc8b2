//go:build !unix

package allowlist

import (
	"errors"
	"os"
)

// openCache opens the cache file for reading after checking, without
// following it, that it is a regular file. Ownership is not checked here.
func openCache(path string) (*os.File, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if err := checkCacheMode(fi); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if fi2, err := f.Stat(); err != nil || !os.SameFile(fi, fi2) {
		f.Close()
		return nil, errors.New("replaced while being opened")
	}
	return f, nil
}
