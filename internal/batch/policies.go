package batch

import (
	"context"
	"errors"

	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

func (a *API) registerPolicies(svc *service.Service) {
	svc.Handle("CreateSchedulingPolicy", service.Op(a.createPolicy))
	svc.Handle("UpdateSchedulingPolicy", service.Op(a.updatePolicy))
	svc.Handle("DescribeSchedulingPolicies", service.Op(a.describePolicies))
	svc.Handle("ListSchedulingPolicies", service.Op(a.listPolicies))
	svc.Handle("DeleteSchedulingPolicy", service.Op(a.deletePolicy))
}

type createPolicyInput struct {
	Name            string            `json:"name"`
	FairsharePolicy *fairsharePolicy  `json:"fairsharePolicy"`
	Tags            map[string]string `json:"tags"`
}

type policyOutput struct {
	Name string `json:"name"`
	Arn  string `json:"arn"`
}

func checkFairshare(fp *fairsharePolicy) error {
	if fp == nil {
		return nil
	}
	if fp.ShareDecaySeconds != nil && (*fp.ShareDecaySeconds < 0 || *fp.ShareDecaySeconds > 604800) {
		return errClient("shareDecaySeconds must be between 0 and 604800")
	}
	if fp.ComputeReservation != nil && (*fp.ComputeReservation < 0 || *fp.ComputeReservation > 99) {
		return errClient("computeReservation must be between 0 and 99")
	}
	if len(fp.ShareDistribution) > 500 {
		return errClient("shareDistribution can hold at most 500 share identifiers")
	}
	seen := map[string]bool{}
	for _, s := range fp.ShareDistribution {
		if s.ShareIdentifier == "" || seen[s.ShareIdentifier] {
			return errClient("shareIdentifier must be given, once per share")
		}
		seen[s.ShareIdentifier] = true
		if s.WeightFactor != nil && (*s.WeightFactor <= 0 || *s.WeightFactor > 999.9999) {
			return errClient("weightFactor must be greater than 0 and at most 999.9999")
		}
	}
	return nil
}

func (a *API) createPolicy(ctx context.Context, in *createPolicyInput) (*policyOutput, error) {
	account, region := partition(ctx)
	if in.Name == "" {
		return nil, errClient("name is required")
	}
	if err := checkName("name", in.Name); err != nil {
		return nil, err
	}
	if err := checkFairshare(in.FairsharePolicy); err != nil {
		return nil, err
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	rec := &policyRecord{Name: in.Name, Arn: arn(region, account, "scheduling-policy/"+in.Name), FairsharePolicy: in.FairsharePolicy, Tags: in.Tags}
	if rec.FairsharePolicy == nil {
		rec.FairsharePolicy = &fairsharePolicy{}
	}
	err := a.store.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Create(store.Key{Account: account, Region: region, Kind: kindPolicy, ID: in.Name}, rec)
		if errors.Is(err, store.ErrAlreadyExists) {
			return errClient("Error executing request, Exception : Object already exists")
		}
		return err
	})
	if err != nil {
		return nil, asAPIError(err, "create scheduling policy %s", in.Name)
	}
	a.notify()
	return &policyOutput{Name: rec.Name, Arn: rec.Arn}, nil
}

type updatePolicyInput struct {
	Arn             string           `json:"arn"`
	FairsharePolicy *fairsharePolicy `json:"fairsharePolicy"`
}

func (a *API) updatePolicy(ctx context.Context, in *updatePolicyInput) (*struct{}, error) {
	if in.Arn == "" {
		return nil, errClient("arn is required")
	}
	if err := checkFairshare(in.FairsharePolicy); err != nil {
		return nil, err
	}
	account, region := partition(ctx)
	key := store.Key{Account: account, Region: region, Kind: kindPolicy, ID: nameOf(in.Arn)}
	err := a.store.Update(ctx, func(tx store.Tx) error {
		var rec policyRecord
		meta, err := tx.Get(key, &rec)
		if errors.Is(err, store.ErrNotFound) {
			return errClient("Error executing request, Exception : SchedulingPolicy %s does not exist", in.Arn)
		}
		if err != nil {
			return err
		}
		if in.FairsharePolicy != nil {
			rec.FairsharePolicy = in.FairsharePolicy
		}
		_, err = tx.Put(key, &rec, meta.Version)
		return err
	})
	if err != nil {
		return nil, asAPIError(err, "update scheduling policy %s", in.Arn)
	}
	a.notify()
	return &struct{}{}, nil
}

type describePoliciesInput struct {
	Arns []string `json:"arns"`
}

type describePoliciesOutput struct {
	SchedulingPolicies []*policyRecord `json:"schedulingPolicies"`
}

func (a *API) listPolicyRecords(ctx context.Context) ([]*policyRecord, error) {
	account, region := partition(ctx)
	var out []*policyRecord
	err := a.store.View(ctx, func(tx store.Tx) error {
		return tx.List(store.Query{Kind: kindPolicy, Account: account, Region: region}, func(o store.Object) error {
			var rec policyRecord
			if err := o.Decode(&rec); err != nil {
				return err
			}
			out = append(out, &rec)
			return nil
		})
	})
	if err != nil {
		return nil, errServer(err, "list scheduling policies")
	}
	return out, nil
}

func (a *API) describePolicies(ctx context.Context, in *describePoliciesInput) (*describePoliciesOutput, error) {
	if len(in.Arns) == 0 {
		return nil, errClient("arns is required")
	}
	all, err := a.listPolicyRecords(ctx)
	if err != nil {
		return nil, err
	}
	out := &describePoliciesOutput{SchedulingPolicies: []*policyRecord{}}
	for _, p := range all {
		if wanted(in.Arns, p.Arn, p.Arn) {
			out.SchedulingPolicies = append(out.SchedulingPolicies, p)
		}
	}
	return out, nil
}

type listPoliciesInput struct {
	MaxResults *int   `json:"maxResults"`
	NextToken  string `json:"nextToken"`
}

type listPoliciesOutput struct {
	SchedulingPolicies []policyListing `json:"schedulingPolicies"`
	NextToken          string          `json:"nextToken,omitempty"`
}

type policyListing struct {
	Arn string `json:"arn"`
}

func (a *API) listPolicies(ctx context.Context, in *listPoliciesInput) (*listPoliciesOutput, error) {
	all, err := a.listPolicyRecords(ctx)
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(all, in.NextToken, in.MaxResults, func(p *policyRecord) string { return p.Name })
	if err != nil {
		return nil, err
	}
	out := &listPoliciesOutput{SchedulingPolicies: []policyListing{}, NextToken: next}
	for _, p := range page {
		out.SchedulingPolicies = append(out.SchedulingPolicies, policyListing{Arn: p.Arn})
	}
	return out, nil
}

type deletePolicyInput struct {
	Arn string `json:"arn"`
}

func (a *API) deletePolicy(ctx context.Context, in *deletePolicyInput) (*struct{}, error) {
	if in.Arn == "" {
		return nil, errClient("arn is required")
	}
	account, region := partition(ctx)
	err := a.store.Update(ctx, func(tx store.Tx) error {
		inUse := false
		err := tx.List(store.Query{Kind: kindQueue, Account: account, Region: region}, func(o store.Object) error {
			var q queueRecord
			if err := o.Decode(&q); err != nil {
				return err
			}
			if q.SchedulingPolicyArn == in.Arn && q.Status != "DELETED" {
				inUse = true
			}
			return nil
		})
		if err != nil {
			return err
		}
		if inUse {
			return errClient("Error executing request, Exception : Cannot delete, the scheduling policy is used by a job queue")
		}
		err = tx.Delete(store.Key{Account: account, Region: region, Kind: kindPolicy, ID: nameOf(in.Arn)}, 0)
		if errors.Is(err, store.ErrNotFound) {
			return errClient("Error executing request, Exception : SchedulingPolicy %s does not exist", in.Arn)
		}
		return err
	})
	if err != nil {
		return nil, asAPIError(err, "delete scheduling policy %s", in.Arn)
	}
	return &struct{}{}, nil
}
