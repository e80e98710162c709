// Python arguments -> C++ values with lamina errors naming the function and the argument.
// pybind11's own casters reject a value they cannot convert (2**64 for an int64_t, "x" for a
// double) inside its overload dispatcher, which raises a plain TypeError before any lamina
// code runs; a binding declared with def_checked takes such parameters as Python objects and
// converts them here, so every bad value becomes a lamina.InvalidValueError.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <pybind11/pybind11.h>

#include "lamina/lamina.hpp"

namespace lamina::bind {

namespace py = pybind11;

// Releases the GIL while a bound function runs.
using Release = py::call_guard<py::gil_scoped_release>;

// An int or an int-like scalar (anything with __index__ that is not a sequence: a NumPy
// integer, not a NumPy array).
bool is_int_like(py::handle v);
// v as a Python int; ValueError "<what>: <name> must be an int, got ..." for anything else.
py::int_ to_py_int(py::handle v, const char* what, const char* name);
[[noreturn]] void throw_out_of_range(py::handle v, const char* what, const char* name, const std::string& range);

// An integer argument as T, any integral type: a non-integer or a value outside T's range
// throws ValueError naming what and name.
template <class T>
T to_int(py::handle v, const char* what, const char* name) {
  static_assert(std::is_integral_v<T> && sizeof(T) <= 8);
  using Limits = std::numeric_limits<T>;
  const py::int_ i = to_py_int(v, what, name);
  if constexpr (std::is_signed_v<T>) {
    int overflow = 0;
    const long long x = PyLong_AsLongLongAndOverflow(i.ptr(), &overflow);
    if (overflow == 0 && x >= Limits::min() && x <= Limits::max()) return static_cast<T>(x);
  } else {
    const unsigned long long x = PyLong_AsUnsignedLongLong(i.ptr());
    if (!PyErr_Occurred() && x <= Limits::max()) return static_cast<T>(x);
    PyErr_Clear();
  }
  throw_out_of_range(v, what, name, "[" + std::to_string(Limits::min()) + ", " + std::to_string(Limits::max()) + "]");
}
inline int64_t to_int64(py::handle v, const char* what, const char* name) { return to_int<int64_t>(v, what, name); }
// A list of integers (axes, a permutation): an int-like alone or a sequence of them.
std::vector<int64_t> to_int64s(py::handle v, const char* what, const char* name);
// A real number (anything float() takes but a string); ValueError otherwise.
double to_double(py::handle v, const char* what, const char* name);

namespace args_detail {

// The Python object of an argument that def_checked converts itself. The casters below keep
// pybind11's signatures in docstrings ("axis: int = -1").
struct IntArg { py::handle h; };
struct IntsArg { py::handle h; };
struct FloatArg { py::handle h; };

template <class T> using Bare = std::remove_cv_t<std::remove_reference_t<T>>;
template <class T> constexpr bool kInt = std::is_integral_v<Bare<T>> && !std::is_same_v<Bare<T>, bool>;
template <class T> constexpr bool kFloat = std::is_floating_point_v<Bare<T>>;
template <class T> constexpr bool kInts = std::is_same_v<Bare<T>, std::vector<int64_t>>;
template <class T> constexpr bool kConverted = kInt<T> || kFloat<T> || kInts<T>;
template <class T>
using From = std::conditional_t<kInt<T>, IntArg,
             std::conditional_t<kFloat<T>, FloatArg, std::conditional_t<kInts<T>, IntsArg, T>>>;

template <class T, class V>
decltype(auto) convert(V&& v, const char* what, const char* name) {
  if constexpr (kInt<T>) return to_int<Bare<T>>(v.h, what, name);
  else if constexpr (kFloat<T>) return static_cast<Bare<T>>(to_double(v.h, what, name));
  else if constexpr (kInts<T>) return to_int64s(v.h, what, name);
  else return std::forward<V>(v);
}

// The parameter types of a lambda, a function or a member function (the object first).
template <class F> struct CallOperator;
template <class R, class L, class... A> struct CallOperator<R (L::*)(A...) const> {
  using Result = R; using Args = std::tuple<A...>;
};

template <class F>
struct Traits : CallOperator<decltype(&F::operator())> {};
template <class R, class... A> struct Traits<R (*)(A...)> { using Result = R; using Args = std::tuple<A...>; };
template <class R, class C, class... A> struct Traits<R (C::*)(A...)> {
  using Result = R; using Args = std::tuple<C&, A...>;
};
template <class R, class C, class... A> struct Traits<R (C::*)(A...) const> {
  using Result = R; using Args = std::tuple<const C&, A...>;
};

struct Names {
  std::string what;                // "lrn", "Tensor.transpose"
  std::vector<const char*> args;   // the py::arg names, the unnamed self first excluded
  const char* at(size_t i, size_t count) const {
    const size_t unnamed = count - args.size();
    return i < unnamed ? "self" : args[i - unnamed];
  }
};

template <class R, class F, class... C>
R call(const F& f, bool release, C&&... c) {
  if (!release) return std::invoke(f, std::forward<C>(c)...);
  py::gil_scoped_release unlocked;
  return std::invoke(f, std::forward<C>(c)...);
}

template <class R, class... A, class F, size_t... I>
auto checked(F f, Names names, bool release, std::tuple<A...>*, std::index_sequence<I...>) {
  constexpr size_t n = sizeof...(A);
  if (names.args.size() > n || ((kConverted<A> && I < n - names.args.size()) || ...))
    throw std::logic_error("def_checked " + names.what + ": every converted argument needs a py::arg name");
  return [f = std::move(f), names = std::move(names), release](From<A>... a) -> R {
    return call<R>(f, release, convert<A>(std::forward<From<A>>(a), names.what.c_str(), names.at(I, n))...);
  };
}

template <class E> constexpr bool kName = std::is_base_of_v<py::arg, E>;

template <class E> void collect(Names& names, bool& release, const E& e) {
  if constexpr (kName<E>) names.args.push_back(e.name);
  if constexpr (std::is_same_v<E, Release>) release = true;
}
// The extras pybind11 gets: all but the call guard (the wrapper releases the GIL itself,
// after converting its arguments).
template <class E> auto kept(const E& e) {
  if constexpr (std::is_same_v<E, Release>) return std::tuple<>{};
  else return std::tuple<const E&>(e);
}

}  // namespace args_detail

// scope.def(name, f, extras...) with f's integer, integer-list and float parameters
// converted by to_int / to_int64s / to_double, errors naming "<scope>.<name>" (a module's
// functions: "<name>") and the py::arg name. Release() in extras releases the GIL for the
// call only, after the conversions.
template <class Scope, class F, class... Extra>
Scope& def_checked(Scope& scope, const char* name, F f, const Extra&... extra) {
  namespace d = args_detail;
  using T = d::Traits<F>;
  d::Names names;
  names.what = name;
  if constexpr (!std::is_same_v<Scope, py::module_>) {
    std::string cls = py::str(scope.attr("__name__"));
    if (!cls.empty() && cls[0] == '_') cls.erase(0, 1);
    names.what = cls + "." + name;
  }
  bool release = false;
  (d::collect(names, release, extra), ...);
  constexpr size_t n = std::tuple_size_v<typename T::Args>;
  auto wrapped = d::checked<typename T::Result>(std::move(f), std::move(names), release,
                                                static_cast<typename T::Args*>(nullptr), std::make_index_sequence<n>{});
  std::apply([&](const auto&... e) { scope.def(name, std::move(wrapped), e...); },
             std::tuple_cat(d::kept(extra)...));
  return scope;
}

}  // namespace lamina::bind

namespace pybind11::detail {

#define LAMINA_OBJECT_ARG(Type, Name)                                                   \
  template <>                                                                           \
  struct type_caster<lamina::bind::args_detail::Type> {                                 \
    PYBIND11_TYPE_CASTER(lamina::bind::args_detail::Type, const_name(Name));            \
    bool load(handle src, bool) {                                                       \
      value.h = src;                                                                    \
      return static_cast<bool>(src);                                                    \
    }                                                                                   \
    static handle cast(const lamina::bind::args_detail::Type& v, return_value_policy, handle) { \
      return v.h.inc_ref();                                                             \
    }                                                                                   \
  };
LAMINA_OBJECT_ARG(IntArg, "int")
LAMINA_OBJECT_ARG(IntsArg, "Sequence[int]")
LAMINA_OBJECT_ARG(FloatArg, "float")
#undef LAMINA_OBJECT_ARG

}  // namespace pybind11::detail
