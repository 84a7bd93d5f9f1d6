package store_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/docket-go/docket/internal/store"
)

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		// Nothing secret: shown as written.
		"redis://localhost:6379/0":                          "redis://localhost:6379/0",
		"redis://[::1]:6379/0?dial_timeout=1s&db=2":         "redis://[::1]:6379/0?dial_timeout=1s&db=2",
		"memory://orders":                                   "memory://orders",
		"unix:///run/redis.sock?db=1":                       "unix:///run/redis.sock?db=1",
		"redis+cluster://h1:7000?addr=h2:7000&addr=h3:7000": "redis+cluster://h1:7000?addr=h2:7000&addr=h3:7000",
		"":               "",
		"localhost:6379": "localhost:6379",
		"redis://[::1":   "redis://[::1",

		// User info: the user name stays, the password goes; alone, it may
		// be a password.
		"redis://app:pw@h:6379/0":       "redis://app:xxxxx@h:6379/0",
		"redis://:pw@h:6379/0":          "redis://:xxxxx@h:6379/0",
		"redis://pw@h:6379/0":           "redis://xxxxx@h:6379/0",
		"redis://app:p:w@h/0":           "redis://app:xxxxx@h/0",
		"redis://app:p@w@h/0":           "redis://app:xxxxx@h/0",
		"unix://app:pw@/run/redis.sock": "unix://app:xxxxx@/run/redis.sock",
		"redis://app:p%w@h/0":           "redis://app:xxxxx@h/0",
		"redis://app:p w@h/0":           "redis://app:xxxxx@h/0",

		// An '@' past the host: the password held a '/', '?' or '#', or a
		// parameter an '@'. Which, cannot be told: all goes but the scheme.
		"redis://app:p/w@h/0":      "redis://xxxxx",
		"redis://:p?w@h/0":         "redis://xxxxx",
		"redis://:p#w@h/0":         "redis://xxxxx",
		"redis://h/0?password=p@w": "redis://xxxxx",
		"redis:app:pw@h":           "xxxxx",
		"app:pw@h:6379":            "xxxxx",

		// Query parameters: go-redis's settings stay, anything else's value
		// goes, and a piece that is no parameter goes whole.
		"redis+sentinel://h/0?master_name=m&password=pw":                "redis+sentinel://h/0?master_name=m&password=xxxxx",
		"redis+sentinel://:pw@h/0?master_name=m&sentinel_password=pw2":  "redis+sentinel://:xxxxx@h/0?master_name=m&sentinel_password=xxxxx",
		"redis+sentinel://h/0?username=app&password=p%zz&master_name=m": "redis+sentinel://h/0?username=app&password=xxxxx&master_name=m",
		"redis://h/0?token=t&empty=&flag":                               "redis://h/0?token=xxxxx&empty=&xxxxx",
		"redis://h/0?password=p w%x&db=1":                               "redis://h/0?password=xxxxx&db=1",
		"redis://h/0?password=p&w=x":                                    "redis://h/0?password=xxxxx&w=xxxxx",
		"redis://h/0?password=p&-w":                                     "redis://h/0?password=xxxxx&xxxxx",

		// A fragment has no meaning in a Redis URL: it is a piece of a
		// password or a parameter.
		"redis://h/0?password=p#w": "redis://h/0?password=xxxxx#xxxxx",
		"redis://h/0#w":            "redis://h/0#xxxxx",
	} {
		assert.Equal(t, want, store.RedactURL(raw), raw)
	}
}
