package allowlist

// Linked for its -update flag alone, so that `go test ./... -update` runs
// in this package too (TestEveryTestBinaryDefinesUpdate checks it).
import _ "github.com/originguard/originguard/internal/golden"
