package controllers_test

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/dataresidency/operator/controllers"
	"github.com/dataresidency/operator/internal/testenv"
)

var (
	scheme = controllers.NewScheme()
	cfg    *rest.Config
	k8s    client.Client
	clk    = &offsetClock{}
)

// offsetClock is real time shifted by an offset, so a test can stand a few
// seconds before a legal transition and watch the controllers cross it.
type offsetClock struct{ offset atomic.Int64 }

func (c *offsetClock) Now() time.Time                  { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *offsetClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// standBefore shifts the clock so that now is d before t.
func (c *offsetClock) standBefore(t time.Time, d time.Duration) {
	c.offset.Store(int64(time.Until(t.Add(-d))))
}
func (c *offsetClock) reset() { c.offset.Store(0) }

func TestMain(m *testing.M) {
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.Level(zapLevel())))
	env, err := testenv.Start(testenv.Options{})
	if err != nil {
		if errors.Is(err, testenv.ErrNoAssets) && !testenv.InCI() {
			println("skipping controller tests:", err.Error())
			os.Exit(0)
		}
		println(err.Error())
		os.Exit(1)
	}
	cfg = env.Config
	k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		println(err.Error())
		os.Exit(1)
	}
	code := m.Run()
	_ = env.Stop()
	os.Exit(code)
}

func zapLevel() zapcore.Level { return zapcore.InfoLevel }

// startManager runs the reconcilers in-process until the returned stop is called.
func startManager(t *testing.T, tweaks ...func(*controllers.Options)) (*controllers.Controllers, func()) {
	t.Helper()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		NewCache:               controllers.NewCache,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	opts := controllers.Options{Clock: clk}
	for _, tw := range tweaks {
		tw(&opts)
	}
	c, err := controllers.Setup(ctx, mgr, opts)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	}
	t.Cleanup(stop)
	return c, stop
}
