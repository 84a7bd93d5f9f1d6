package worker_test

import (
	"os"
	"testing"

	"github.com/docket-go/docket/internal/redistest"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childWorker())
	}
	redistest.Main(m)
}
