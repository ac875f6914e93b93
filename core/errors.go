package core

import (
	"errors"
	"fmt"
)

// ErrConfig is wrapped by every configuration validation error.
var ErrConfig = errors.New("invalid configuration")

func errMissing(field string) error {
	return fmt.Errorf("%w: env: %s is nil", ErrConfig, field)
}
