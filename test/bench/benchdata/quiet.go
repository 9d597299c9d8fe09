package benchdata

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// WaitQuiet waits until the manager has had no queued item and no running
// reconcile for 1.5 s, longer than the Report batch window (500 ms), whose
// delayed items the queue depth does not show: so that a measurement does
// not pay for earlier work. metrics returns the manager's samples by line
// prefix (name and labels); nil while unreadable.
func WaitQuiet(ctx context.Context, limit time.Duration, metrics func() map[string]float64) error {
	const quietFor = 1500 * time.Millisecond
	deadline := time.Now().Add(limit)
	var since time.Time
	for ctx.Err() == nil {
		if time.Now().After(deadline) {
			return fmt.Errorf("the manager did not become idle in %s", limit)
		}
		m := metrics()
		busy := 0.0
		if m == nil {
			busy = 1 // unreadable: not known to be idle
		}
		for k, v := range m {
			if strings.HasPrefix(k, "workqueue_depth{") || strings.HasPrefix(k, "controller_runtime_active_workers{") {
				busy += v
			}
		}
		switch {
		case busy != 0:
			since = time.Time{}
		case since.IsZero():
			since = time.Now()
		case time.Since(since) >= quietFor:
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return ctx.Err()
}
