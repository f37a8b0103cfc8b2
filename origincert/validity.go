package origincert

import (
	"fmt"
	"time"
)

// ValidityDays are the certificate lifetimes, in days, that the Origin CA
// API accepts as requested_validity.
var validityDays = [...]int{7, 30, 90, 365, 730, 1095, 5475}

// DefaultValidity is used when a request leaves Validity zero: one year, so
// that renewal is exercised yearly rather than once in fifteen years.
const DefaultValidity = 365 * 24 * time.Hour

// RoundValidity rounds d up to the nearest lifetime the Origin CA accepts
// (7, 30, 90, 365, 730, 1095 or 5475 days) and returns it in days. Zero
// means [DefaultValidity]; negative durations and anything over 5475 days
// are errors.
func RoundValidity(d time.Duration) (int, error) {
	if d == 0 {
		d = DefaultValidity
	}
	if d < 0 {
		return 0, fmt.Errorf("origincert: validity %s is negative", d)
	}
	for _, days := range validityDays {
		if d <= time.Duration(days)*24*time.Hour {
			return days, nil
		}
	}
	return 0, fmt.Errorf("origincert: validity %s is longer than the Origin CA's maximum of 5475 days", d)
}
