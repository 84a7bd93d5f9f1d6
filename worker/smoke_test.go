package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
)

type Greeting struct {
	Name string `json:"name"`
}

func TestSmoke(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		greet := sdk.NewTask("greet", func(ctx context.Context, in Greeting) error { return nil })
		env.Register(greet)
		start := env.Now()
		_, err := greet.Add(t.Context(), env.Docket(), Greeting{Name: "ada"}, sdk.After(time.Hour))
		require.NoError(t, err)
		env.Advance(2 * time.Hour)
		runs := env.Runs("greet")
		require.Len(t, runs, 1)
		require.Equal(t, start.Add(time.Hour), runs[0].Start)
	})
}
