package sdk_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
)

// A task written as a struct literal (a zero Task or ResultTask) is
// refused wherever it is used, with an error that says how to declare one,
// rather than read as a nil task or a task without a name.
func TestZeroTasksSayHowToDeclareOne(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		d := env.Docket()
		type in struct{ N int }
		task := &sdk.Task[in]{}
		result := &sdk.ResultTask[in, int]{}
		_, addErr := task.Add(t.Context(), d, in{})
		_, resultAddErr := result.Add(t.Context(), d, in{})
		_, callErr := result.Call(t.Context(), d, in{})
		_, manyErr := result.AddMany(t.Context(), d, []in{{}})
		_, policiesErr := result.Policies()
		for name, c := range map[string]struct {
			err     error
			builder string
		}{
			"Register(Task)":       {d.Register(task), "sdk.NewTask("},
			"Task.Add":             {addErr, "sdk.NewTask("},
			"Register(ResultTask)": {d.Register(result), "sdk.NewResultTask("},
			"ResultTask.Add":       {resultAddErr, "sdk.NewResultTask("},
			"ResultTask.Call":      {callErr, "sdk.NewResultTask("},
			"ResultTask.AddMany":   {manyErr, "sdk.NewResultTask("},
			"ResultTask.Policies":  {policiesErr, "sdk.NewResultTask("},
		} {
			require.Error(t, c.err, name)
			assert.ErrorIs(t, c.err, sdk.ErrBadTask, name)
			assert.NotErrorIs(t, c.err, sdk.ErrNilArgument, name)
			assert.ErrorContains(t, c.err, "struct literal", name)
			assert.ErrorContains(t, c.err, c.builder, name)
		}
		// Made by its function, a task without a name or a function is
		// told so, not called a struct literal.
		err := d.Register(sdk.NewTask[in]("", nil))
		assert.ErrorContains(t, err, "needs a name")
		assert.NotContains(t, err.Error(), "struct literal")
		err = d.Register(sdk.NewResultTask[in, int]("r", nil))
		assert.ErrorContains(t, err, "nil function")

		var nilTask *sdk.ResultTask[in, int]
		_, err = nilTask.Add(context.Background(), d, in{})
		assert.ErrorIs(t, err, sdk.ErrNilArgument, "a nil task is still a nil argument")
	})
}
