package worker_test

import (
	"os"
	"testing"

	"github.com/docket-go/docket/internal/redistest"
)

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
	case "limited":
		os.Exit(limitedWorker())
	case "crasher":
		os.Exit(crasherWorker())
	default:
		os.Exit(childWorker())
	}
	redistest.Main(m)
}
