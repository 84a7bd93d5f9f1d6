package core

import (
	"errors"
	"fmt"
	"reflect"
)

// Usable returns err, or, should reading err panic, an error that says
// so: a task's function (or a step's) may return a nil pointer of its own
// error type, which is not a nil error (a "typed nil"), and whose Error
// method then dereferences nil; or an error whose Error, Unwrap, Is or As
// method panics. The worker reads an attempt's error well after its
// function returned, outside the recover that turns a panic of the
// function into a failed attempt: such an error would crash the worker,
// and the next one to claim the task. Usable reads it once, as the worker
// will, under a recover.
func Usable(err error) (usable error) {
	if err == nil {
		return nil
	}
	defer func() {
		if v := recover(); v != nil {
			usable = fmt.Errorf("docket: the function returned an error (%T%s) that panics when read: %v", err, typedNil(err), v)
		}
	}()
	_ = err.Error()
	errors.Is(err, errUnmatched) // walks every error err wraps: Unwrap and Is
	var as *unmatched
	errors.As(err, &as) // and As
	return err
}

// typedNil says, for an error that is a nil pointer (or map, slice, func,
// chan), that it is: the usual reason its Error method panics.
func typedNil(err error) string {
	switch v := reflect.ValueOf(err); v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		if v.IsNil() {
			return ", nil: a nil pointer in an error is not a nil error"
		}
	}
	return ""
}

// errUnmatched and unmatched match no error: errors.Is and errors.As look
// through all of one for them.
var errUnmatched = errors.New("docket: matches no error")

type unmatched struct{}

func (*unmatched) Error() string { return "docket: matches no error" }
