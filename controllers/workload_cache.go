package controllers

import (
	"context"
	"fmt"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dataresidency/operator/internal/residency"
)

// NewCache creates the manager's cache (ctrl.Options.NewCache): managed
// fields dropped from everything, and workloads kept as residency.Cached,
// about a third of a typed object's memory. Reads of the typed workload kinds
// (Get, List, field indexes) are answered from the Cached objects, each as a
// new typed object holding what the engine reads; event handlers on workload
// informers receive *residency.Cached.
func NewCache(cfg *rest.Config, opts ctrlcache.Options) (ctrlcache.Cache, error) {
	if opts.DefaultTransform == nil {
		opts.DefaultTransform = ctrlcache.TransformStripManagedFields()
	}
	if opts.ByObject == nil {
		opts.ByObject = map[client.Object]ctrlcache.ByObject{}
	}
	for _, k := range residency.WorkloadKinds() {
		opts.ByObject[k.New().(client.Object)] = ctrlcache.ByObject{Transform: narrowWorkload}
	}
	c, err := ctrlcache.New(cfg, opts)
	if err != nil {
		return nil, err
	}
	return &WorkloadCache{Cache: c}, nil
}

// narrowWorkload is the transform of workload informers (residency.Narrow):
// labels, owner references and the dataresidency.io/ annotations stay;
// status, managed fields, kubectl's last-applied copy, images, probes... go
// as the object enters the cache.
func narrowWorkload(obj any) (any, error) {
	if o, ok := obj.(runtime.Object); ok {
		if c, ok := residency.Narrow(o); ok {
			return c, nil
		}
	}
	return obj, nil
}

// WorkloadCache is the manager's cache with reads of the workload kinds
// served from their Cached form.
type WorkloadCache struct {
	ctrlcache.Cache
	indexers sync.Map // kind → toolscache.Indexer
}

// workloadIndexPrefix names the workload informers' field indexes, which
// WorkloadCache registers and reads itself.
const workloadIndexPrefix = "workload-field:"

// Get reads a workload kind from the Cached object; other kinds as the cache does.
func (c *WorkloadCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	k, ok := residency.WorkloadKindOf(obj)
	if !ok {
		return c.Cache.Get(ctx, key, obj, opts...)
	}
	cached, err := c.GetCached(ctx, k, key)
	if err != nil {
		return err
	}
	return cached.Into(obj)
}

// GetCached returns a workload as the cache keeps it (read-only): what the
// reconcilers evaluate, without a typed copy rebuilt and narrowed again.
func (c *WorkloadCache) GetCached(ctx context.Context, k residency.WorkloadKind, key client.ObjectKey) (*residency.Cached, error) {
	idx, err := c.indexer(ctx, k)
	if err != nil {
		return nil, err
	}
	item, exists, err := idx.GetByKey(key.Namespace + "/" + key.Name)
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, apierrors.NewNotFound(schema.GroupResource{Group: k.Group, Resource: strings.ToLower(k.Kind) + "s"}, key.Name)
	}
	cached, ok := item.(*residency.Cached)
	if !ok {
		return nil, fmt.Errorf("the %s cache holds %T", k.Kind, item)
	}
	return cached, nil
}

// List lists a workload kind from the Cached objects (by namespace, by one
// exact field index match, by labels); other kinds as the cache does.
func (c *WorkloadCache) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	k, ok := residency.WorkloadKindOf(list)
	if !ok {
		return c.Cache.List(ctx, list, opts...)
	}
	items, err := c.ListCached(ctx, k, opts...)
	if err != nil {
		return err
	}
	out := make([]runtime.Object, len(items))
	for i, cached := range items {
		out[i] = cached.Object()
	}
	return meta.SetList(list, out)
}

// ListCached lists a workload kind as the cache keeps it (read-only), with
// List's options: what a caller that needs names, UIDs or the engine's
// Workload reads without a typed copy of each object.
func (c *WorkloadCache) ListCached(ctx context.Context, k residency.WorkloadKind, opts ...client.ListOption) ([]*residency.Cached, error) {
	lo := client.ListOptions{}
	lo.ApplyOptions(opts)
	if lo.Continue != "" {
		return nil, fmt.Errorf("continue list option is not supported by the cache")
	}
	idx, err := c.indexer(ctx, k)
	if err != nil {
		return nil, err
	}
	var items []any
	switch {
	case lo.FieldSelector != nil:
		reqs := lo.FieldSelector.Requirements()
		if len(reqs) != 1 || (reqs[0].Operator != selection.Equals && reqs[0].Operator != selection.DoubleEquals) {
			return nil, fmt.Errorf("listing %s from the cache: only one exact field match is supported, not %q", k.Kind, lo.FieldSelector)
		}
		items, err = idx.ByIndex(workloadIndexPrefix+reqs[0].Field, indexKey(lo.Namespace, reqs[0].Value))
	case lo.Namespace != "":
		items, err = idx.ByIndex(toolscache.NamespaceIndex, lo.Namespace)
	default:
		items = idx.List()
	}
	if err != nil {
		return nil, err
	}
	out := make([]*residency.Cached, 0, len(items))
	for _, item := range items {
		if lo.Limit > 0 && int64(len(out)) >= lo.Limit {
			break
		}
		cached, ok := item.(*residency.Cached)
		if !ok {
			return nil, fmt.Errorf("the %s cache holds %T", k.Kind, item)
		}
		if lo.LabelSelector != nil && !lo.LabelSelector.Matches(cached.LabelSet()) {
			continue
		}
		out = append(out, cached)
	}
	return out, nil
}

// EachWorkload calls fn with every cached object of a workload kind, as the
// cache keeps it (read-only), until fn returns false: a walk over every
// workload without a typed copy of each.
func (c *WorkloadCache) EachWorkload(ctx context.Context, kind residency.WorkloadKind, fn func(*residency.Cached) bool) error {
	idx, err := c.indexer(ctx, kind)
	if err != nil {
		return err
	}
	for _, item := range idx.List() {
		cached, ok := item.(*residency.Cached)
		if !ok {
			return fmt.Errorf("the %s cache holds %T", kind.Kind, item)
		}
		if !fn(cached) {
			return nil
		}
	}
	return nil
}

// IndexField registers a field index; on a workload kind, under the name
// List reads, its function receiving the *residency.Cached.
func (c *WorkloadCache) IndexField(ctx context.Context, obj client.Object, field string, extract client.IndexerFunc) error {
	if _, ok := residency.WorkloadKindOf(obj); !ok {
		return c.Cache.IndexField(ctx, obj, field, extract)
	}
	inf, err := c.GetInformer(ctx, obj, ctrlcache.BlockUntilSynced(false))
	if err != nil {
		return err
	}
	return inf.AddIndexers(toolscache.Indexers{workloadIndexPrefix + field: func(item any) ([]string, error) {
		o, ok := item.(client.Object)
		if !ok {
			return nil, fmt.Errorf("%T is not an object", item)
		}
		var keys []string
		for _, v := range extract(o) {
			keys = append(keys, indexKey(o.GetNamespace(), v), indexKey("", v))
		}
		return keys, nil
	}})
}

// indexKey is a field index key within a namespace, or across all ("").
func indexKey(namespace, value string) string {
	return namespace + "/" + value
}

// indexer returns the store of a workload kind, looked up once: a reconcile
// reads it without allocating a typed object to name the kind.
func (c *WorkloadCache) indexer(ctx context.Context, k residency.WorkloadKind) (toolscache.Indexer, error) {
	if idx, ok := c.indexers.Load(k.Kind); ok {
		return idx.(toolscache.Indexer), nil
	}
	obj := k.New().(client.Object)
	inf, err := c.GetInformer(ctx, obj)
	if err != nil {
		return nil, err
	}
	sii, ok := inf.(toolscache.SharedIndexInformer)
	if !ok {
		return nil, fmt.Errorf("the informer of %T is a %T", obj, inf)
	}
	idx := sii.GetIndexer()
	c.indexers.Store(k.Kind, idx)
	return idx, nil
}
