package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// EnsureTopics creates those of cfg's six topics that do not exist, with
// cfg.Partitions partitions (default 6) and cfg.ReplicationFactor replicas
// (default 1); the entitlements topic gets cleanup.policy=compact. It is
// idempotent: an existing topic is left as it is, except that an existing
// entitlements topic whose cleanup.policy does not include compact is an
// error (its records would expire and tenants' states would be lost). Every
// problem is reported at once.
func EnsureTopics(ctx context.Context, adm *kadm.Client, cfg Config) error {
	cfg, err := cfg.ready()
	if err != nil {
		return err
	}
	compact := "compact"
	var errs []error
	existed := map[string]bool{}
	create := func(configs map[string]*string, topics ...string) {
		resp, err := adm.CreateTopics(ctx, cfg.Partitions, cfg.ReplicationFactor, configs, topics...)
		if err != nil {
			errs = append(errs, fmt.Errorf("create topics %s: %w", strings.Join(topics, ", "), err))
			return
		}
		for _, t := range topics {
			r, ok := resp[t]
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("create topic %s: no answer from the broker", t))
			case r.Err == nil:
			case errors.Is(r.Err, kerr.TopicAlreadyExists):
				existed[t] = true
			default:
				msg := ""
				if r.ErrMessage != "" {
					msg = " (" + r.ErrMessage + ")"
				}
				errs = append(errs, fmt.Errorf("create topic %s%s: %w", t, msg, r.Err))
			}
		}
	}
	plain := slices.DeleteFunc(cfg.Topics.All(), func(t string) bool { return t == cfg.Topics.Entitlements })
	create(nil, plain...)
	create(map[string]*string{"cleanup.policy": &compact}, cfg.Topics.Entitlements)
	if len(errs) == 0 && existed[cfg.Topics.Entitlements] {
		if err := checkCompacted(ctx, adm, cfg.Topics.Entitlements); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// checkCompacted fails unless the existing topic's cleanup.policy includes
// compact. A topic created a moment ago may still be unknown to the broker
// that answers, so UNKNOWN_TOPIC_OR_PARTITION is retried for a few seconds.
func checkCompacted(ctx context.Context, adm *kadm.Client, topic string) error {
	var (
		rc  kadm.ResourceConfig
		err error
	)
	for try := 0; ; try++ {
		var rcs kadm.ResourceConfigs
		rcs, err = adm.DescribeTopicConfigs(ctx, topic)
		if err == nil {
			rc, err = rcs.On(topic, nil)
			if err == nil {
				err = rc.Err
			}
		}
		if !errors.Is(err, kerr.UnknownTopicOrPartition) || try == 20 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("describe configs of %s: %w", topic, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
	if err != nil {
		return fmt.Errorf("describe configs of %s: %w", topic, err)
	}
	for _, c := range rc.Configs {
		if c.Key != "cleanup.policy" {
			continue
		}
		v := c.MaybeValue()
		for _, p := range strings.Split(v, ",") {
			if strings.TrimSpace(p) == "compact" {
				return nil
			}
		}
		return fmt.Errorf("entitlements topic %s has cleanup.policy=%s: it must include compact (alter the topic's config)", topic, v)
	}
	return fmt.Errorf("entitlements topic %s: broker did not report cleanup.policy", topic)
}
