"""What a numeric condition in a question means against a target value.

A question condition (:class:`Condition`) is compared with a parsed target
(:class:`~indexer.model.Target`).  Users ask about *the number written in the
target* — "满意度目标低于90%的单位" means targets such as ``≥85%`` — except for
``≥`` questions (不低于 / 达到 / 以上 / 至少), which keep the stricter reading
"every value the target allows is at least X".

The semantics table (X = the question's number, n = the target's number;
a range target ``a～b`` uses a for ≥/>, b for ≤/<):

============  ==================  ==================  ============  ===========  ==============
question      target ≥n / >n      target ≤n / <n      target =n,    target a～b  qualitative,
                                                      bare n                     empty
============  ==================  ==================  ============  ===========  ==============
≥X 不低于…    n ≥ X               never (a cap)       n ≥ X         a ≥ X        never
>X 高于 超过  n > X (>n: n ≥ X)   n > X               n > X         a > X        never
≤X 不超过…    n ≤ X               n ≤ X               n ≤ X         b ≤ X        never
<X 低于 不到  n < X               n < X (<n: n ≤ X)   n < X         b < X        never
=X 是 为      n = X               n = X               n = X         a ≤ X ≤ b    never
X～Y 之间     X ≤ n ≤ Y           X ≤ n ≤ Y           X ≤ n ≤ Y     X ≤ a, b ≤ Y never
============  ==================  ==================  ============  ===========  ==============

Examples: ``≥85%`` is "below 90%" (85 < 90) but does not satisfy "≥90%";
``≤115.33万元`` is a cost "above 50万元"; ``≥90%`` is a target "that is 90%".
Units must agree after conversion within a family (万元↔元, 万人次↔人次); a
question without a unit compares the numbers as written.
"""

from __future__ import annotations

from dataclasses import dataclass

from indexer.model import Target
from indexer.values.units import to_wan, unit_scale


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


@dataclass(frozen=True)
class Condition:
    """A numeric condition asked about, e.g. ``≥ 90 %`` or ``range (90, 95) %``."""

    op: str  # ≥ ≤ > < = range
    number: float | tuple[float, float]
    unit: str | None
    text: str = ""  # as written in the question

    def label(self) -> str:
        u = self.unit or ""
        if isinstance(self.number, tuple):
            lo, hi = self.number
            return f"{_fmt(lo)}{u}～{_fmt(hi)}{u}"
        return f"{self.op}{_fmt(self.number)}{u}"


@dataclass(frozen=True)
class Verdict:
    status: str  # yes | no | unit | qualitative | empty
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "yes"


_FLOOR_OPS = ("≥", ">")
_CAP_OPS = ("≤", "<")


def _satisfied(t: Target, scale: float, cond: Condition) -> bool:
    op = t.op or "="
    if op == "range" and isinstance(t.number, tuple):
        a, b = t.number[0] * scale, t.number[1] * scale
    else:
        a = b = float(t.number) * scale  # type: ignore[arg-type]
    if cond.op == "range" and isinstance(cond.number, tuple):
        x, y = cond.number
        return x <= a and b <= y
    x = float(cond.number)  # type: ignore[arg-type]
    if cond.op == "≥":
        return op not in _CAP_OPS and a >= x
    if cond.op == ">":
        return a > x or (op == ">" and a == x)
    if cond.op == "≤":
        return b <= x
    if cond.op == "<":
        return b < x or (op == "<" and b == x)
    if cond.op == "=":
        return a <= x <= b
    raise ValueError(f"未知的比较运算符：{cond.op}")


def check_target(t: Target, cond: Condition) -> Verdict:
    """Does target ``t`` satisfy ``cond``?  See the module's semantics table."""
    if t.qualitative:
        return Verdict("qualitative", "未量化（定性指标）")
    if not t.is_numeric:
        return Verdict("empty", "未填写指标值")
    scale = unit_scale(t.unit, cond.unit)
    if scale is None:
        return Verdict("unit", f"单位不一致（{t.unit or '无单位'}，问题为{cond.unit}）")
    if _satisfied(t, scale, cond):
        return Verdict("yes", "")
    return Verdict("no", f"{t.text.strip()}不满足{cond.label()}")


def amount_satisfies(amount_wan: float, cond: Condition) -> bool | None:
    """An exact amount in 万元 (资金总额, an expense line) against ``cond``;
    None when the condition's unit is not money."""
    factor = to_wan(cond.unit)
    if factor is None:
        return None
    if isinstance(cond.number, tuple):
        lo, hi = (n * factor for n in cond.number)
        return lo - 1e-9 <= amount_wan <= hi + 1e-9
    x = float(cond.number) * factor
    return {
        "≥": amount_wan >= x - 1e-9,
        ">": amount_wan > x + 1e-9,
        "≤": amount_wan <= x + 1e-9,
        "<": amount_wan < x - 1e-9,
        "=": abs(amount_wan - x) < 1e-9,
    }.get(cond.op)


def semantics_note(cond: Condition, column: str = "annual") -> str:
    """One sentence saying how ``cond`` was applied (shown under answers)."""
    col = "半年指标值" if column == "half_year" else "全年指标值"
    unit = "" if cond.unit else "问题未写单位，按数值比较；"
    if cond.op == "≥":
        rule = f"指标值允许的所有取值都须满足{cond.label()}，如“≥85%”不满足“≥90%”，“≤”上限类指标不算"
    elif cond.op == "range":
        rule = f"指标值中写的数值须落在{cond.label()}之内"
    else:
        rule = "比较指标值中写的数值，如“≥85%”算作低于90%，“≤115.33万元”算作超过50万元，“≥90%”算作90%"
    return f"（口径：按{col}判断，{rule}；{unit}单位须一致；定性指标不参与比较。）"


__all__ = ["Condition", "Verdict", "amount_satisfies", "check_target", "semantics_note"]
