package lambda

import (
	"context"
	"errors"

	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// minUnreserved is the pool Lambda keeps for functions without a
// reservation (100), less on an account whose whole limit is small.
func (a *API) minUnreserved() int { return min(100, a.accountConcurrency/10) }

func (a *API) registerConcurrency(svc *service.Service) {
	svc.Handle("PutFunctionConcurrency", service.Op(a.putFunctionConcurrency))
	svc.Handle("GetFunctionConcurrency", service.Op(a.getFunctionConcurrency))
	svc.Handle("DeleteFunctionConcurrency", service.Op(a.deleteFunctionConcurrency))
	svc.Handle("GetAccountSettings", service.Op(a.getAccountSettings))
}

type concurrencyOutput struct {
	ReservedConcurrentExecutions *int
}

type putConcurrencyInput struct {
	FunctionName                 string
	ReservedConcurrentExecutions *int
}

func (a *API) reservationsKey(account, region string) store.Key {
	return store.Key{Account: account, Region: region, Kind: kindReservations, ID: reservationsID}
}

// reservations reads every reservation of a partition.
func (a *API) reservations(tx store.Tx, account, region string) (map[string]int, error) {
	var r reservationsRecord
	_, err := tx.Get(a.reservationsKey(account, region), &r)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if r.ByFunction == nil {
		r.ByFunction = map[string]int{}
	}
	return r.ByFunction, nil
}

// setReservation records (n non-nil) or clears one function's reservation
// in the partition's sum.
func (a *API) setReservation(tx store.Tx, account, region, name string, n *int) error {
	byFn, err := a.reservations(tx, account, region)
	if err != nil {
		return err
	}
	if n == nil {
		delete(byFn, name)
	} else {
		byFn[name] = *n
	}
	_, err = tx.Put(a.reservationsKey(account, region), &reservationsRecord{ByFunction: byFn}, 0)
	return err
}

// unreservedPool is the account limit less every reservation.
func (a *API) unreservedPool(byFn map[string]int) int {
	pool := a.accountConcurrency
	for _, n := range byFn {
		pool -= n
	}
	return pool
}

func (a *API) putFunctionConcurrency(ctx context.Context, in *putConcurrencyInput) (*concurrencyOutput, error) {
	account, region := partition(ctx)
	ref, err := parseFunctionName(account, region, in.FunctionName)
	if err != nil {
		return nil, err
	}
	if in.ReservedConcurrentExecutions == nil {
		return nil, errValidation("null", "reservedConcurrentExecutions", "Member must not be null")
	}
	n := *in.ReservedConcurrentExecutions
	_, err = a.modifyFunction(ctx, ref, func(tx store.Tx, f *functionRecord) error {
		byFn, err := a.reservations(tx, account, region)
		if err != nil {
			return err
		}
		byFn[f.Name] = n
		if a.unreservedPool(byFn) < a.minUnreserved() {
			return errInvalidParameter("Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [%d].", a.minUnreserved())
		}
		f.Reserved = &n
		return a.setReservation(tx, account, region, f.Name, &n)
	})
	if err != nil {
		return nil, err
	}
	return &concurrencyOutput{ReservedConcurrentExecutions: &n}, nil
}

type functionNameInput struct {
	FunctionName string
}

func (a *API) getFunctionConcurrency(ctx context.Context, in *functionNameInput) (*concurrencyOutput, error) {
	_, f, err := a.resolveRef(ctx, in.FunctionName, "")
	if err != nil {
		return nil, err
	}
	return &concurrencyOutput{ReservedConcurrentExecutions: f.Reserved}, nil
}

func (a *API) deleteFunctionConcurrency(ctx context.Context, in *functionNameInput) (*struct{}, error) {
	account, region := partition(ctx)
	ref, err := parseFunctionName(account, region, in.FunctionName)
	if err != nil {
		return nil, err
	}
	_, err = a.modifyFunction(ctx, ref, func(tx store.Tx, f *functionRecord) error {
		f.Reserved = nil
		return a.setReservation(tx, account, region, f.Name, nil)
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

type accountSettingsOutput struct {
	AccountLimit struct {
		TotalCodeSize                  int64
		CodeSizeUnzipped               int64
		CodeSizeZipped                 int64
		ConcurrentExecutions           int
		UnreservedConcurrentExecutions int
	}
	AccountUsage struct {
		TotalCodeSize int64
		FunctionCount int64
	}
}

func (a *API) getAccountSettings(ctx context.Context, _ *struct{}) (*accountSettingsOutput, error) {
	account, region := partition(ctx)
	out := &accountSettingsOutput{}
	err := a.store.View(ctx, func(tx store.Tx) error {
		byFn, err := a.reservations(tx, account, region)
		if err != nil {
			return err
		}
		out.AccountLimit.UnreservedConcurrentExecutions = a.unreservedPool(byFn)
		out.AccountUsage.TotalCodeSize, out.AccountUsage.FunctionCount, err = a.usage(tx, account, region)
		return err
	})
	if err != nil {
		return nil, errInternal(err, "read account settings")
	}
	out.AccountLimit.TotalCodeSize = maxTotalCode
	out.AccountLimit.CodeSizeUnzipped = maxUnzippedCode
	out.AccountLimit.CodeSizeZipped = maxZippedCode
	out.AccountLimit.ConcurrentExecutions = a.accountConcurrency
	return out, nil
}

// usage sums the code of every version of every function in a partition
// (a package shared by versions counts once per version, as Lambda's) and
// counts the functions.
func (a *API) usage(tx store.Tx, account, region string) (codeSize, functions int64, err error) {
	err = tx.List(store.Query{Kind: kindFunction, Account: account, Region: region}, func(o store.Object) error {
		var f functionRecord
		if err := o.Decode(&f); err != nil {
			return err
		}
		functions++
		codeSize += f.Latest.CodeSize
		for _, v := range f.Versions {
			codeSize += v.CodeSize
		}
		return nil
	})
	return codeSize, functions, err
}
