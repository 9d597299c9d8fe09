package state

import (
	"context"

	"github.com/dataresidency/operator/internal/residency"
)

// Inputs returns the residency objects in the cache, as Snapshot compiles
// them, for what-if evaluations: the catalog admission webhook compiles a
// hypothetical snapshot with the object under review replaced or removed. The
// objects are the cache's own (listed without deep copies): never modify them;
// build new slices to replace or remove entries.
func (p *Provider) Inputs(ctx context.Context) (residency.Inputs, error) {
	in, _ := p.gather()
	return in, nil
}
