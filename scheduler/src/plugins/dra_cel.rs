//! CEL device selectors for DynamicResources (upstream
//! `staging/src/k8s.io/dynamic-resource-allocation/cel/compile.go` and the Kubernetes CEL
//! library's `quantity` / `semver` extensions in `apiserver/pkg/cel/library`).
//!
//! A selector such as
//! `device.attributes["gpu.nvidia.com"].productName == "NVIDIA H100"` or
//! `device.capacity["gpu.nvidia.com"].memory.compareTo(quantity("40Gi")) >= 0`
//! is evaluated once per candidate device with one variable, `device`:
//! - `device.driver`: the driver name (string);
//! - `device.attributes`: domain → attribute name → value (string, int, bool or a semver
//!   `version`). Unqualified attribute names belong to the driver's own domain, as upstream.
//!   An unknown domain reads as an empty map (upstream's `mapWithDefault`), so
//!   `has(device.attributes["x"].y)` is false rather than an error;
//! - `device.capacity`: domain → name → quantity;
//! - `device.allowMultipleAllocations`: bool.
//!
//! Functions: `quantity(s)` with `compareTo`, `isGreaterThan`, `isLessThan`, `add`, `sub`,
//! `asInteger`, `asApproximateFloat`, `isInteger`, `sign`; `semver(s)` / `isSemver(s)` with
//! `compareTo`, `isGreaterThan`, `isLessThan`, `major`, `minor`, `patch`. Quantities and
//! versions also compare with `==`, `<`, `>` (a superset of upstream, which only offers the
//! methods).
//!
//! Differences from upstream: expressions are parsed, not type-checked, so a type error
//! (e.g. a selector returning a string) shows up when it is evaluated, as a runtime error;
//! there is no CEL cost limit (the `cel` crate has none; a selector's loops are bounded by
//! the device's attributes). Compiling and evaluating are guarded against panics inside the
//! `cel` crate: a panic reads as an error, never takes the scheduler down.

use std::any::Any;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use cel::common::traits::{Comparer, Container, Indexer, Iterable, Sizer};
use cel::common::types::{
    CelBool, CelDouble, CelInt, CelMap, CelMapKey, CelString, INT_TYPE, MAP_TYPE, STRING_TYPE, Type,
};
use cel::common::value::{CowVal, StaticVal, Val};
use cel::context::VariableResolver;
use cel::{Context, Env, ExecutionError, Program, Value};
use k8s_openapi::api::resource::v1::Device;
use parking_lot::RwLock;

/// Why a selector did not give a verdict for a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CelError {
    /// The expression does not parse; no device can match it.
    Compile(String),
    /// It parsed, but failed on this device (a missing attribute, a type mismatch).
    Runtime(String),
}

impl std::fmt::Display for CelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CelError::Compile(e) => write!(f, "CEL compile error: {e}"),
            CelError::Runtime(e) => write!(f, "CEL runtime error: {e}"),
        }
    }
}

/// Compiled selectors by expression text (upstream `cel.Cache`), shared by every scheduling
/// cycle: a DeviceClass's selectors compile once, not once per pod.
pub struct CelCache {
    env: Arc<Env>,
    programs: RwLock<HashMap<String, Arc<Result<Program, String>>>>,
    max_entries: usize,
}

impl Default for CelCache {
    fn default() -> Self {
        CelCache::new(10_000)
    }
}

impl CelCache {
    /// A cache of at most `max_entries` expressions (cleared when full; upstream keeps an LRU
    /// of 10 entries per default, the scheduler's `celCache`, sized by the number of classes).
    pub fn new(max_entries: usize) -> CelCache {
        CelCache {
            env: Arc::new(dra_env()),
            programs: RwLock::new(HashMap::new()),
            max_entries: max_entries.max(1),
        }
    }

    /// The compiled program for `expression`, compiling it the first time.
    pub fn compile(&self, expression: &str) -> Arc<Result<Program, String>> {
        if let Some(p) = self.programs.read().get(expression) {
            return Arc::clone(p);
        }
        let env = Arc::clone(&self.env);
        let compiled = catch_unwind(AssertUnwindSafe(|| env.compile(expression)))
            .map_err(|_| "the CEL parser panicked".to_owned())
            .and_then(|r| r.map_err(|e| e.to_string()));
        let compiled = Arc::new(compiled);
        let mut programs = self.programs.write();
        if programs.len() >= self.max_entries {
            programs.clear();
        }
        programs.insert(expression.to_owned(), Arc::clone(&compiled));
        compiled
    }

    /// Whether `device` satisfies `expression`.
    pub fn matches(&self, expression: &str, device: &CelDevice) -> Result<bool, CelError> {
        let compiled = self.compile(expression);
        let program = match compiled.as_ref() {
            Ok(p) => p,
            Err(e) => return Err(CelError::Compile(e.clone())),
        };
        let resolver = DeviceResolver(device.value.as_ref());
        let result = catch_unwind(AssertUnwindSafe(|| {
            let mut context = Context::with_env(Arc::clone(&self.env));
            context.set_variable_resolver(&resolver);
            program.execute(&context)
        }));
        match result {
            Ok(Ok(Value::Bool(b))) => Ok(b),
            Ok(Ok(other)) => Err(CelError::Runtime(format!(
                "expression must evaluate to a bool, got {}",
                other.type_of()
            ))),
            Ok(Err(e)) => Err(CelError::Runtime(e.to_string())),
            Err(_) => Err(CelError::Runtime("the CEL interpreter panicked".to_owned())),
        }
    }
}

/// Hands the prebuilt `device` value to the interpreter without copying it.
struct DeviceResolver<'a>(&'a (dyn Val + 'static));

impl VariableResolver for DeviceResolver<'_> {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        (variable == "device").then(|| CowVal::Borrowed(self.0))
    }
}

/// A device as CEL sees it, built once per ResourceSlice version and reused for every
/// selector and every pod.
pub struct CelDevice {
    value: Box<dyn Val + 'static>,
}

impl std::fmt::Debug for CelDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CelDevice").finish_non_exhaustive()
    }
}

impl CelDevice {
    /// The `device` variable for `device` published by `driver`.
    pub fn new(driver: &str, device: &Device) -> CelDevice {
        let split = |name: &str| -> (String, String) {
            match name.split_once('/') {
                Some((domain, id)) => (domain.to_owned(), id.to_owned()),
                None => (driver.to_owned(), name.to_owned()),
            }
        };
        let mut attributes: BTreeMap<String, HashMap<CelMapKey<'static>, Box<dyn Val>>> =
            BTreeMap::new();
        for (name, attr) in device.attributes.iter().flatten() {
            let value: Box<dyn Val> = if let Some(s) = &attr.string {
                Box::new(CelString::from(s.clone()))
            } else if let Some(i) = attr.int {
                Box::new(CelInt::from(i))
            } else if let Some(b) = attr.bool {
                Box::new(CelBool::from(b))
            } else if let Some(v) = &attr.version {
                match Semver::parse(v) {
                    Some(v) => Box::new(v),
                    None => Box::new(CelString::from(v.clone())),
                }
            } else {
                continue;
            };
            let (domain, id) = split(name);
            attributes
                .entry(domain)
                .or_default()
                .insert(CelMapKey::from(id), value);
        }
        let mut capacity: BTreeMap<String, HashMap<CelMapKey<'static>, Box<dyn Val>>> =
            BTreeMap::new();
        for (name, cap) in device.capacity.iter().flatten() {
            let Some(q) = CelQuantity::parse(&cap.value.0) else {
                continue;
            };
            let (domain, id) = split(name);
            capacity
                .entry(domain)
                .or_default()
                .insert(CelMapKey::from(id), Box::new(q));
        }
        let domains = |m: BTreeMap<String, HashMap<CelMapKey<'static>, Box<dyn Val>>>| {
            let inner: HashMap<CelMapKey<'static>, Box<dyn Val>> = m
                .into_iter()
                .map(|(d, v)| {
                    (
                        CelMapKey::from(d),
                        Box::new(CelMap::from(v)) as Box<dyn Val>,
                    )
                })
                .collect();
            DomainMap {
                inner: CelMap::from(inner),
                empty: CelMap::from(HashMap::new()),
            }
        };
        let mut fields: HashMap<CelMapKey<'static>, Box<dyn Val>> = HashMap::new();
        fields.insert(
            CelMapKey::from("driver".to_owned()),
            Box::new(CelString::from(driver.to_owned())),
        );
        fields.insert(
            CelMapKey::from("attributes".to_owned()),
            Box::new(domains(attributes)),
        );
        fields.insert(
            CelMapKey::from("capacity".to_owned()),
            Box::new(domains(capacity)),
        );
        fields.insert(
            CelMapKey::from("allowMultipleAllocations".to_owned()),
            Box::new(CelBool::from(
                device.allow_multiple_allocations.unwrap_or(false),
            )),
        );
        CelDevice {
            value: Box::new(CelMap::from(fields)),
        }
    }
}

/// `device.attributes` / `device.capacity`: a map whose unknown keys read as an empty map.
#[derive(Debug, Clone)]
struct DomainMap {
    inner: CelMap<'static>,
    empty: CelMap<'static>,
}

impl Val for DomainMap {
    fn get_type(&self) -> &Type {
        &MAP_TYPE
    }
    fn cel_type() -> &'static Type {
        &MAP_TYPE
    }
    fn as_indexer<'b, 'v>(&'b self) -> Option<&'b (dyn Indexer + 'v)>
    where
        Self: 'v,
    {
        Some(self)
    }
    fn as_container(&self) -> Option<&dyn Container> {
        self.inner.as_container()
    }
    fn as_iterable<'b, 'v>(&'b self) -> Option<&'b (dyn Iterable + 'v)>
    where
        Self: 'v,
    {
        self.inner.as_iterable()
    }
    fn as_sizer(&self) -> Option<&dyn Sizer> {
        self.inner.as_sizer()
    }
    fn equals(&self, other: &dyn Val) -> bool {
        self.inner.equals(other)
    }
    fn clone_as_boxed<'v>(&self) -> Box<dyn Val + 'v> {
        Box::new(self.clone())
    }
}

impl Indexer for DomainMap {
    fn get<'b, 'v>(&'b self, idx: &dyn Val) -> Result<CowVal<'b, 'v>, ExecutionError>
    where
        Self: 'v,
    {
        match self.inner.get(idx) {
            Err(ExecutionError::NoSuchKey(_)) => Ok(CowVal::Borrowed(&self.empty)),
            other => other,
        }
    }

    fn steal<'v>(self: Box<Self>, idx: &dyn Val) -> Result<Box<dyn Val + 'v>, ExecutionError>
    where
        Self: 'v,
    {
        self.get(idx).map(CowVal::into_owned)
    }
}

static QUANTITY_TYPE: Type = Type::new_unspecified_type("kubernetes.Quantity");
static SEMVER_TYPE: Type = Type::new_unspecified_type("kubernetes.Semver");

/// A resource quantity (`resource.Quantity`) as an exact number of nano-units, which covers
/// every quantity a device reports (up to about 10^20 units).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct CelQuantity(i128);

impl CelQuantity {
    /// Parses `1`, `1.5`, `100m`, `40Gi`, `1e3`; `None` for anything else.
    pub fn parse(s: &str) -> Option<CelQuantity> {
        let s = s.trim();
        let (negative, rest) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let digits = rest
            .bytes()
            .take_while(|c| c.is_ascii_digit() || *c == b'.')
            .count();
        let (number, suffix) = rest.split_at(digits);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
            return None;
        }
        let (exponent, binary) = crate::framework::quantity::suffix_scale(suffix)?;
        let mut mantissa: i128 = 0;
        for c in whole.bytes().chain(fraction.bytes()) {
            mantissa = mantissa
                .checked_mul(10)?
                .checked_add(i128::from(c - b'0'))?;
        }
        for _ in 0..binary {
            mantissa = mantissa.checked_mul(1024)?;
        }
        // nano-units: shift by 9 decimal places.
        let shift = exponent - i32::try_from(fraction.len()).ok()? + 9;
        let value = if shift >= 0 {
            mantissa.checked_mul(10i128.checked_pow(u32::try_from(shift).ok()?)?)?
        } else {
            match 10i128.checked_pow(u32::try_from(-shift).ok()?) {
                Some(d) => (mantissa + d - 1) / d,
                None => i128::from(mantissa > 0),
            }
        };
        Some(CelQuantity(if negative { -value } else { value }))
    }

    fn as_integer(self) -> Option<i64> {
        (self.0 % 1_000_000_000 == 0).then(|| i64::try_from(self.0 / 1_000_000_000).ok())?
    }
}

impl Val for CelQuantity {
    fn get_type(&self) -> &Type {
        &QUANTITY_TYPE
    }
    fn cel_type() -> &'static Type {
        &QUANTITY_TYPE
    }
    fn as_comparer(&self) -> Option<&dyn Comparer> {
        Some(self)
    }
    fn equals(&self, other: &dyn Val) -> bool {
        other
            .downcast_ref::<CelQuantity>()
            .is_some_and(|o| o == self)
    }
    fn clone_as_boxed<'v>(&self) -> Box<dyn Val + 'v> {
        Box::new(*self)
    }
    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

impl StaticVal for CelQuantity {}

impl Comparer for CelQuantity {
    fn compare(&self, rhs: &dyn Val) -> Result<Ordering, ExecutionError> {
        rhs.downcast_ref::<CelQuantity>()
            .map(|o| self.cmp(o))
            .ok_or_else(|| ExecutionError::function_error("compareTo", "not a quantity"))
    }
}

/// A semantic version (`major.minor.patch[-pre][+build]`), compared as semver 2.0 orders them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Semver {
    major: u64,
    minor: u64,
    patch: u64,
    pre: Vec<String>,
}

impl Semver {
    pub fn parse(s: &str) -> Option<Semver> {
        let s = s.split_once('+').map_or(s, |(v, _)| v);
        let (core, pre) = match s.split_once('-') {
            Some((c, p)) => (c, p.split('.').map(str::to_owned).collect::<Vec<_>>()),
            None => (s, Vec::new()),
        };
        if pre.iter().any(String::is_empty) {
            return None;
        }
        let mut parts = core.split('.');
        let mut number = || -> Option<u64> {
            let p = parts.next()?;
            if p.is_empty()
                || !p.bytes().all(|c| c.is_ascii_digit())
                || (p.len() > 1 && p.starts_with('0'))
            {
                return None;
            }
            p.parse().ok()
        };
        let v = Semver {
            major: number()?,
            minor: number()?,
            patch: number()?,
            pre,
        };
        parts.next().is_none().then_some(v)
    }
}

impl PartialOrd for Semver {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Semver {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    for (a, b) in self.pre.iter().zip(&other.pre) {
                        let o = match (a.parse::<u64>(), b.parse::<u64>()) {
                            (Ok(x), Ok(y)) => x.cmp(&y),
                            (Ok(_), Err(_)) => Ordering::Less,
                            (Err(_), Ok(_)) => Ordering::Greater,
                            (Err(_), Err(_)) => a.cmp(b),
                        };
                        if o != Ordering::Equal {
                            return o;
                        }
                    }
                    self.pre.len().cmp(&other.pre.len())
                }
            })
    }
}

impl Val for Semver {
    fn get_type(&self) -> &Type {
        &SEMVER_TYPE
    }
    fn cel_type() -> &'static Type {
        &SEMVER_TYPE
    }
    fn as_comparer(&self) -> Option<&dyn Comparer> {
        Some(self)
    }
    fn equals(&self, other: &dyn Val) -> bool {
        other.downcast_ref::<Semver>().is_some_and(|o| o == self)
    }
    fn clone_as_boxed<'v>(&self) -> Box<dyn Val + 'v> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

impl StaticVal for Semver {}

impl Comparer for Semver {
    fn compare(&self, rhs: &dyn Val) -> Result<Ordering, ExecutionError> {
        rhs.downcast_ref::<Semver>()
            .map(|o| self.cmp(o))
            .ok_or_else(|| ExecutionError::function_error("compareTo", "not a semver"))
    }
}

// ---- functions -------------------------------------------------------------------------

fn arg<'a, 'b, 'v, T: StaticVal>(
    args: &'a [CowVal<'b, 'v>],
    i: usize,
    function: &str,
) -> Result<&'a T, ExecutionError> {
    args.get(i)
        .and_then(|a| a.downcast_ref::<T>())
        .ok_or_else(|| ExecutionError::function_error(function, "unexpected argument"))
}

fn string_arg<'a>(args: &'a [CowVal<'_, '_>], function: &str) -> Result<&'a str, ExecutionError> {
    args.first()
        .and_then(|a| a.downcast_ref::<CelString>())
        .map(CelString::inner)
        .ok_or_else(|| ExecutionError::function_error(function, "expects a string"))
}

fn int_arg(args: &[CowVal<'_, '_>], i: usize, function: &str) -> Result<i64, ExecutionError> {
    args.get(i)
        .and_then(|a| a.downcast_ref::<CelInt>())
        .map(|i| *i.inner())
        .ok_or_else(|| ExecutionError::function_error(function, "expects an int"))
}

fn ordering(o: Ordering) -> i64 {
    match o {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }
}

type Res<'b, 'v> = Result<CowVal<'b, 'v>, ExecutionError>;

fn quantity_fn<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Res<'b, 'v> {
    let s = string_arg(&args, "quantity")?;
    let q = CelQuantity::parse(s).ok_or_else(|| {
        ExecutionError::function_error("quantity", format!("invalid quantity {s:?}"))
    })?;
    Ok(CowVal::owned(q))
}

fn q_compare<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Res<'b, 'v> {
    let a = arg::<CelQuantity>(&args, 0, "compareTo")?;
    let b = arg::<CelQuantity>(&args, 1, "compareTo")?;
    Ok(CowVal::owned(CelInt::from(ordering(a.cmp(b)))))
}

fn q_greater<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Res<'b, 'v> {
    let a = arg::<CelQuantity>(&args, 0, "isGreaterThan")?;
    let b = arg::<CelQuantity>(&args, 1, "isGreaterThan")?;
    Ok(CowVal::owned(CelBool::from(a > b)))
}

fn q_less<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Res<'b, 'v> {
    let a = arg::<CelQuantity>(&args, 0, "isLessThan")?;
    let b = arg::<CelQuantity>(&args, 1, "isLessThan")?;
    Ok(CowVal::owned(CelBool::from(a < b)))
}

fn q_add<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Res<'b, 'v> {
    let a = arg::<CelQuantity>(&args, 0, "add")?;
    let b = match arg::<CelQuantity>(&args, 1, "add") {
        Ok(b) => b.0,
        Err(_) => i128::from(int_arg(&args, 1, "add")?) * 1_000_000_000,
    };
    a.0.checked_add(b)
        .map(|v| CowVal::owned(CelQuantity(v)))
        .ok_or_else(|| ExecutionError::function_error("add", "overflow"))
}

fn q_sub<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Res<'b, 'v> {
    let a = arg::<CelQuantity>(&args, 0, "sub")?;
    let b = match arg::<CelQuantity>(&args, 1, "sub") {
        Ok(b) => b.0,
        Err(_) => i128::from(int_arg(&args, 1, "sub")?) * 1_000_000_000,
    };
    a.0.checked_sub(b)
        .map(|v| CowVal::owned(CelQuantity(v)))
        .ok_or_else(|| ExecutionError::function_error("sub", "overflow"))
}

fn q_as_integer<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Res<'b, 'v> {
    let a = arg::<CelQuantity>(&args, 0, "asInteger")?;
    a.as_integer()
        .map(|i| CowVal::owned(CelInt::from(i)))
        .ok_or_else(|| {
            ExecutionError::function_error("asInteger", "cannot convert value to integer")
        })
}

fn q_is_integer<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Res<'b, 'v> {
    let a = arg::<CelQuantity>(&args, 0, "isInteger")?;
    Ok(CowVal::owned(CelBool::from(a.as_integer().is_some())))
}

fn q_as_float<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Res<'b, 'v> {
    let a = arg::<CelQuantity>(&args, 0, "asApproximateFloat")?;
    #[allow(clippy::cast_precision_loss)]
    let f = a.0 as f64 / 1e9;
    Ok(CowVal::owned(CelDouble::from(f)))
}

fn q_sign<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Res<'b, 'v> {
    let a = arg::<CelQuantity>(&args, 0, "sign")?;
    Ok(CowVal::owned(CelInt::from(ordering(a.0.cmp(&0)))))
}

fn semver_fn<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Res<'b, 'v> {
    let s = string_arg(&args, "semver")?;
    let v = Semver::parse(s)
        .ok_or_else(|| ExecutionError::function_error("semver", format!("invalid semver {s:?}")))?;
    Ok(CowVal::owned(v))
}

fn is_semver_fn<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Res<'b, 'v> {
    let s = string_arg(&args, "isSemver")?;
    Ok(CowVal::owned(CelBool::from(Semver::parse(s).is_some())))
}

fn v_compare<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Res<'b, 'v> {
    let a = arg::<Semver>(&args, 0, "compareTo")?;
    let b = arg::<Semver>(&args, 1, "compareTo")?;
    Ok(CowVal::owned(CelInt::from(ordering(a.cmp(b)))))
}

fn v_greater<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Res<'b, 'v> {
    let a = arg::<Semver>(&args, 0, "isGreaterThan")?;
    let b = arg::<Semver>(&args, 1, "isGreaterThan")?;
    Ok(CowVal::owned(CelBool::from(a > b)))
}

fn v_less<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Res<'b, 'v> {
    let a = arg::<Semver>(&args, 0, "isLessThan")?;
    let b = arg::<Semver>(&args, 1, "isLessThan")?;
    Ok(CowVal::owned(CelBool::from(a < b)))
}

fn v_part(
    args: &[CowVal<'_, '_>],
    f: fn(&Semver) -> u64,
    name: &str,
) -> Result<CelInt, ExecutionError> {
    let a = arg::<Semver>(args, 0, name)?;
    i64::try_from(f(a))
        .map(CelInt::from)
        .map_err(|_| ExecutionError::function_error(name, "overflow"))
}

fn v_major<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Res<'b, 'v> {
    v_part(&args, |v| v.major, "major").map(CowVal::owned)
}

fn v_minor<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Res<'b, 'v> {
    v_part(&args, |v| v.minor, "minor").map(CowVal::owned)
}

fn v_patch<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Res<'b, 'v> {
    v_part(&args, |v| v.patch, "patch").map(CowVal::owned)
}

/// The standard library plus the Kubernetes quantity and semver functions. Registering a
/// fixed set of distinct overloads cannot fail; should the crate ever refuse one, that
/// function is simply missing and selectors using it fail at runtime.
fn dra_env() -> Env {
    let mut env = Env::stdlib();
    let q = || QUANTITY_TYPE.to_owned();
    let v = || SEMVER_TYPE.to_owned();
    let results = [
        env.add_overload(
            "quantity",
            "quantity_string",
            vec![STRING_TYPE.to_owned()],
            quantity_fn,
        ),
        env.add_overload(
            "semver",
            "semver_string",
            vec![STRING_TYPE.to_owned()],
            semver_fn,
        ),
        env.add_overload(
            "isSemver",
            "is_semver_string",
            vec![STRING_TYPE.to_owned()],
            is_semver_fn,
        ),
        env.add_member_overload("compareTo", "quantity_compareTo", q(), vec![q()], q_compare),
        env.add_member_overload(
            "isGreaterThan",
            "quantity_isGreaterThan",
            q(),
            vec![q()],
            q_greater,
        ),
        env.add_member_overload("isLessThan", "quantity_isLessThan", q(), vec![q()], q_less),
        env.add_member_overload("add", "quantity_add", q(), vec![q()], q_add),
        env.add_member_overload(
            "add",
            "quantity_add_int",
            q(),
            vec![INT_TYPE.to_owned()],
            q_add,
        ),
        env.add_member_overload("sub", "quantity_sub", q(), vec![q()], q_sub),
        env.add_member_overload(
            "sub",
            "quantity_sub_int",
            q(),
            vec![INT_TYPE.to_owned()],
            q_sub,
        ),
        env.add_member_overload("asInteger", "quantity_asInteger", q(), vec![], q_as_integer),
        env.add_member_overload("isInteger", "quantity_isInteger", q(), vec![], q_is_integer),
        env.add_member_overload(
            "asApproximateFloat",
            "quantity_asApproximateFloat",
            q(),
            vec![],
            q_as_float,
        ),
        env.add_member_overload("sign", "quantity_sign", q(), vec![], q_sign),
        env.add_member_overload("compareTo", "semver_compareTo", v(), vec![v()], v_compare),
        env.add_member_overload(
            "isGreaterThan",
            "semver_isGreaterThan",
            v(),
            vec![v()],
            v_greater,
        ),
        env.add_member_overload("isLessThan", "semver_isLessThan", v(), vec![v()], v_less),
        env.add_member_overload("major", "semver_major", v(), vec![], v_major),
        env.add_member_overload("minor", "semver_minor", v(), vec![], v_minor),
        env.add_member_overload("patch", "semver_patch", v(), vec![], v_patch),
    ];
    debug_assert!(results.iter().all(Result::is_ok), "{results:?}");
    env
}

#[cfg(test)]
#[path = "dra_cel_tests.rs"]
mod tests;
