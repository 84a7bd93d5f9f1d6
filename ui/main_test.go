package ui_test

import (
	"testing"

	"github.com/docket-go/docket/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }
