//go:build !unix

package firewall

import (
	"errors"
	"os"
)

func openLockFile(path string) (*os.File, error) {
	return nil, errors.New("file locks need a Unix system")
}

func tryLock(f *os.File, exclusive bool) (bool, error) {
	return false, errors.New("file locks need a Unix system")
}
