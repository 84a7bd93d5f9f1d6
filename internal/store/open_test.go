package store_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/internal/store"
)

// A docket speaks RESP2 unless its URL asks for another protocol: it needs
// nothing of RESP3, whose push notifications go-redis checks on every call.
func TestOpenSpeaksRESP2UnlessTold(t *testing.T) {
	srv := redistest.Redis(t)
	ctx := context.Background()
	for url, want := range map[string]int{srv.URL: 2, srv.URL + "?protocol=3": 3} {
		rdb, closeFn, err := store.Open(ctx, url)
		require.NoError(t, err)
		c, ok := rdb.(*redis.Client)
		require.True(t, ok)
		assert.Equal(t, want, c.Options().Protocol, url)
		hello, err := c.Do(ctx, "CLIENT", "INFO").Text()
		require.NoError(t, err)
		assert.Contains(t, hello, map[int]string{2: "resp=2", 3: "resp=3"}[want], "as the server sees it")
		require.NoError(t, closeFn())
	}
}
