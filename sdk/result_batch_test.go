package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/sdk"
)

// A batch of tasks added at once and run by one worker, whose outcomes
// reach Redis together (in groups of those alike): each producer gets its
// own task's result or error, whether its neighbours completed, failed with
// another message, failed for good or were retried.
func TestEveryResultOfABatchIsItsOwn(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		d := openChecked(t, b.URL)
		square := sdk.NewResultTask("square", func(ctx context.Context, in Image) (Thumb, error) {
			switch in.Fail {
			case "same":
				return Thumb{}, sdk.Permanent(errors.New("refused"))
			case "own":
				return Thumb{}, sdk.Permanent(fmt.Errorf("refused %s", in.Path))
			}
			return Thumb{URL: in.Path, Width: in.Width * in.Width}, nil
		})
		require.NoError(t, d.Register(square))
		ins := make([]Image, 300)
		for i := range ins {
			ins[i] = Image{Path: fmt.Sprint("p", i), Width: i}
			switch i % 7 {
			case 3, 4:
				ins[i].Fail = "same"
			case 5:
				ins[i].Fail = "own"
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		exs, err := square.AddMany(ctx, d, ins)
		require.NoError(t, err)
		runWorker(t, d)
		for i, ex := range exs {
			got, err := square.Result(ctx, ex)
			switch ins[i].Fail {
			case "same":
				assert.ErrorIs(t, err, sdk.ErrPermanent, i)
				assert.ErrorContains(t, err, "refused", i)
			case "own":
				assert.ErrorContains(t, err, "refused "+ins[i].Path, i)
			default:
				require.NoError(t, err, i)
				assert.Equal(t, Thumb{URL: ins[i].Path, Width: i * i}, got, i)
			}
		}
	})
}
