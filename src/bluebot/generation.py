"""Passages (passages.py) -> an answer. The Generator protocol and its backends (local transformers model, any
OpenAI-compatible endpoint, extractive), the prompts with numbered passages, follow-up rewriting, and the yes/no
prompt with which the local model confirms an answer's figures. The answer is then checked in code by checks.py."""

from __future__ import annotations

import collections
import copy
import os
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from bluebot.config import Settings
from bluebot.errors import GenerationError, ModelError
from bluebot.glossary import Glossary
from bluebot.numbers import (
    MEASURE_WORDS,
    annotate_english,
    asks_two_things,
    english_amounts,
    english_dates,
    find_amounts,
    strip_markers,
)
from bluebot.passages import Passage, asked_units, relevance, split_pieces, token_weight
from bluebot.subjects import unmentioned
from bluebot.text import (
    CJK_RUN,
    NUMBER,
    ascii_punctuation,
    detect_lang,
    has_chinese,
    keyword_tokens,
    normalize_for_match,
)
from bluebot.types import Hit, Lang, Turn

if TYPE_CHECKING:
    from langchain_core.prompts import ChatPromptTemplate

Messages = Sequence[tuple[str, str]]  # (role, content); role is "system", "user" or "assistant"

REFUSAL: dict[Lang, str] = {"zh": "报告中没有找到相关信息。", "en": "The report does not say."}

MAX_NEW_TOKENS = 200
# Prompt-lookup decoding: the answer copies figures and phrases from the passages, so up to this many tokens that
# followed the answer's last words earlier on are proposed and checked in one forward pass. Still greedy.
# Interleaved A/B on 10 questions (BENCHMARKS.md): full answer p50 11.0 s -> 8.5 s through transformers' generate;
# LocalGenerator's own loop, which also reuses the system message's cache, took it to 5.5 s (first token 3.5 s).
PROMPT_LOOKUP_TOKENS = 10  # LocalGenerator.lookup_tokens; 0 turns prompt lookup off
REWRITE_MAX_TOKENS = 48
SHORT_FOLLOW_UP_TERMS = 4  # a follow-up with fewer content words than this leans on the conversation


class Generator(Protocol):
    """A chat model that streams text. `name` is what Answer.backend reports ("local:<model>")."""

    name: str

    def stream(self, messages: Messages, max_tokens: int | None = None) -> Iterator[str]: ...


@runtime_checkable
class ChoiceScorer(Protocol):
    """A model that can say how likely each of a few one-word replies is (the local model can; an endpoint's
    chat API need not)."""

    def choice_probabilities(self, messages: Messages, choices: Sequence[str]) -> list[float]: ...


# ---------------------------------------------------------------- prompts


_SYSTEM = {
    # Short answers that skip restating the question cut decoding time (~4 tokens/s here) by a third on the test
    # questions, with the same accuracy; the two-part example asks for every part of a two-part question.
    "zh": (
        "你是报告问答助手，只能依据用户给出的编号资料回答，不得使用资料以外的知识。\n"
        "要求：\n"
        "1. 用中文简短回答问题的每个部分，直接给出答案，不要复述问题。\n"
        "2. 每句话末尾标注所依据资料的编号，如[1]。\n"
        "3. 数字和单位照抄资料原文。\n"
        "4. 资料中没有问题要的信息时，只回答：报告中没有找到相关信息。\n"
        "示例（与报告无关）：\n"
        "资料：[1] 2023年某市新能源汽车产业投资额为450亿元，同比增长12%。\n"
        "问题：该市新能源汽车产业投资额是多少？增长了多少？\n"
        "回答：2023年为450亿元，同比增长12%[1]。"
    ),
    # Measured on 14 English questions with the 1.5B model: saying that the passages are Chinese, asking for every
    # part of the question, and a second example that translates names took it from 4 to 8 correct; without them it
    # declined answerable questions and left Chinese place names untranslated. It now says they may be in Chinese, for
    # documents of either language (dev en 0.821 -> 0.846).
    "en": (
        "You answer questions about a document using only the numbered passages the user gives "
        "(they may be in Chinese); never use outside knowledge.\n"
        "Rules:\n"
        "1. Answer every part of the question in English, in one or two short sentences; give the answer directly, "
        "without repeating the question.\n"
        "2. End each sentence with the number of the passage it comes from, like [1].\n"
        "3. Translate all Chinese words, including place and company names, into English. "
        "亿 = 100 million, 万亿 = 1 trillion.\n"
        "4. If the passages say nothing about what is asked, reply only: The report does not say.\n"
        "Examples (not from the report):\n"
        "Passages: [1] 2023年某市新能源汽车产业投资额为450亿元，同比增长12%。[2] 南京、苏州等地设立了专项基金。\n"
        "Question: How fast did the city's new-energy vehicle investment grow?\n"
        "Answer: It grew 12% year on year in 2023 [1].\n"
        "Question: Which cities set up special funds?\n"
        "Answer: Nanjing and Suzhou set up special funds [2]."
    ),
}
_USER = {"zh": "资料：\n{passages}\n\n问题：{question}", "en": "Passages:\n{passages}\n\nQuestion: {question}"}

_REWRITE_SYSTEM = {
    # The examples: without them the 1.5B model returned 2 of 6 Chinese test follow-ups unchanged or cut in half,
    # and rewrote "How much of that went into large models?" as a question about the total (all 6 English ones
    # stand alone with the two examples; with one, "And their weaknesses?" came back unchanged).
    "zh": (
        "把对话中用户的最后一个问题改写成一个完整、可以单独理解的问题，补全省略和指代的内容，保留问题的每个部分。"
        "只输出改写后的问题。\n"
        "示例：\n对话：\n用户：2023年某市有多少家企业获得投资？\n助手：120家。\n"
        "最后的问题：融资额多大？分别在哪些区？\n"
        "改写后的问题：2023年某市获得投资的企业融资额多大？分别在哪些区？"
    ),
    "en": (
        "Rewrite the user's last question as one complete question that can be understood without the "
        "conversation, filling in what it leaves out or refers back to, and keeping every part of it. "
        "Output only the rewritten question.\n"
        "Examples:\n"
        "Conversation:\nUser: What are the advantages of wind power in the city's plan?\nAssistant: Low cost.\n"
        "Last question: And its drawbacks?\n"
        "Rewritten question: What are the drawbacks of wind power in the city's plan?\n"
        "Conversation:\nUser: How much did the city's companies raise in 2023?\nAssistant: 2 billion yuan.\n"
        "Last question: How much of that went to chip makers?\n"
        "Rewritten question: How much of the money the city's companies raised in 2023 went to chip makers?"
    ),
}
_REWRITE_USER = {
    "zh": "对话：\n{conversation}\n\n最后的问题：{question}\n改写后的问题：",
    "en": "Conversation:\n{conversation}\n\nLast question: {question}\nRewritten question:",
}
_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


def _template(system: str, user: str) -> ChatPromptTemplate:
    from langchain_core.prompts import ChatPromptTemplate

    return ChatPromptTemplate.from_messages([("system", system), ("human", user)])


def _render(template: ChatPromptTemplate, **values: str) -> list[tuple[str, str]]:
    return [(_ROLES[m.type], str(m.content)) for m in template.format_messages(**values)]


def _section(hit: Hit) -> str:
    return re.sub(r"^\d+\s+", "", hit.chunk.section)  # "04 南京市..." -> "南京市...": the number means nothing here


def english_reading(text: str, glossary: Glossary | None = None) -> str:
    """Chinese text with the English reading of its names, amounts and dates after them, for an English answer
    to copy: "华为 (Huawei)", "3,176 亿元 (317.6 billion yuan)", "2021年9月 (September 2021)"."""
    return annotate_english(glossary.gloss(text) if glossary else text)


def answer_messages(
    question: str,
    lang: Lang,
    passages: Sequence[Passage],
    glossary: Glossary | None = None,
    english_names: bool = False,
    best_last: bool = False,
) -> list[tuple[str, str]]:
    """The answer prompt in lang. An English prompt gives the passages' names, amounts and dates with their English
    reading, for the answer to copy. english_names gives a Chinese prompt the English names of glossary's terms, for
    the Chinese reading of an English question to match the question's words to the passages' ("performance per
    watt" to 性能功耗比): the caller passes the names that share a word with the question (Glossary.about). Against
    every name with the amounts' and dates' readings too (the answer is translated afterwards, its amounts in code):
    the English dev questions' prompts 946 tokens at the median instead of 1,117, their prompt pass p50 3.5 s instead
    of 4.6 s, accuracy 0.812 either way (4 fixed, 4 broken); with the amounts' readings kept, 0.802.

    The passages are listed best first ([1] ... [5]), or with best_last next to the question ([5] ... [1]), keeping
    their numbers. Measured with the local model, best last against best first: Chinese questions 0.818 -> 0.870 on
    dev (6 answers fixed, 5 of them to questions joining two passages; 2 broken); English ones, in either of their
    prompts, 0.846 -> 0.782 (2 fixed, 7 broken). So Chinese questions take best_last."""

    def gloss(text: str) -> str:
        if lang == "en":
            return english_reading(text, glossary)
        return glossary.gloss(text) if english_names and glossary else text

    text = "\n".join(
        f"[{p.n}] （{_section(p.hit)}）{gloss(p.text)}" if p.hit.chunk.section else f"[{p.n}] {gloss(p.text)}"
        for p in (reversed(passages) if best_last else passages)
    )
    return _render(_template(_SYSTEM[lang], _USER[lang]), passages=text, question=question)


# ---------------------------------------------------------------- follow-up questions


def _conversation(history: Sequence[Turn], lang: Lang) -> str:
    names = {
        "zh": {"user": "用户：", "assistant": "助手："},
        "en": {"user": "User: ", "assistant": "Assistant: "},
    }[lang]
    # The last exchange is enough to resolve "it" / "那南京呢"; older turns only cost prompt time.
    return "\n".join(f"{names[t.role]}{t.content[:200]}" for t in history[-2:])


def key_terms(text: str) -> list[str]:
    """The content words of a question as written (case kept), in order: jieba's precise cut, filtered by
    the keyword index's rules (no stop words, no punctuation) and without lone measure words (家, 个)."""
    import jieba

    keyword_tokens("")  # initialises jieba quietly
    terms: list[str] = []
    for word in jieba.lcut(re.sub(r"(?<=\d),(?=\d{3})", "", text)):
        word = word.strip()
        if (len(word) > 1 or word.isdigit()) and word not in terms and keyword_tokens(word):
            terms.append(word)
    return terms


def rewrite_fallback(question: str, history: Sequence[Turn]) -> str:
    """No model: put the last user question's key terms that the follow-up lacks in front of it."""
    previous = next((t.content for t in reversed(history) if t.role == "user"), "")
    have = {t.lower() for t in key_terms(question)}
    terms = [t for t in key_terms(previous) if t.lower() not in have]
    if not terms:
        return question
    return f"{' '.join(terms)} {question}"


def rewrite_question(question: str, history: Sequence[Turn], lang: Lang, generator: Generator | None) -> str:
    """A standalone question for retrieval. Uses the model when there is one; any failure of the model
    (GenerationError, ModelError) propagates so the caller can fall back for the answer as well."""
    if not history:
        return question
    if generator is None:
        return rewrite_fallback(question, history)
    messages = _render(
        _template(_REWRITE_SYSTEM[lang], _REWRITE_USER[lang]),
        conversation=_conversation(history, lang),
        question=question,
    )
    reply = "".join(generator.stream(messages, max_tokens=REWRITE_MAX_TOKENS)).strip()
    reply = re.sub(r"^(改写后的问题|rewritten question|question)\s*[:：]\s*", "", reply.split("\n")[0], flags=re.I)
    reply = reply.strip(" \"'“”「」")
    # A rewrite that changed language, vanished or rambled is worse than the deterministic one; so is a short
    # follow-up ("批复规模有多大？") handed back unchanged. A longer one may stand alone
    # ("那南京呢？有多少家AI企业拿到了投资？"): the previous question's terms would only blur it (全国 there).
    unchanged = normalize_for_match(reply).rstrip("?？") == normalize_for_match(question).rstrip("?？")
    unresolved = unchanged and len(key_terms(question)) < SHORT_FOLLOW_UP_TERMS
    # So is one that lost the follow-up's own year or name: "What about <another name>?" came back as the previous
    # question, and "... through <a later year>?" with the earlier year.
    if (
        not reply
        or detect_lang(reply) != lang
        or len(reply) > 3 * len(question) + 120
        or unresolved
        or unmentioned(question, lang, [reply])
    ):
        return rewrite_fallback(question, history)
    return reply


# ---------------------------------------------------------------- does the evidence answer the question?

# Asked in Chinese whatever the question's language: the evidence is Chinese, and so are the two replies.
_SUPPORT_SYSTEM = "判断资料是否直接回答了问题。只回答“是”或“否”。"
_SUPPORT_USER = "资料：{evidence}\n问题：{question}\n资料是否直接给出了问题所问的信息？"
SUPPORT_CHOICES = ("是", "否")
# The same for evidence in English (a document without Chinese): the prompt follows the evidence's language.
_SUPPORT_SYSTEM_EN = "Judge whether the passage directly answers the question. Reply only Yes or No."
_SUPPORT_USER_EN = "Passage: {evidence}\nQuestion: {question}\nDoes the passage directly give what the question asks?"
SUPPORT_CHOICES_EN = ("Yes", "No")


def support_messages(question: str, evidence: Sequence[str]) -> list[tuple[str, str]]:
    """The yes/no prompt, in Chinese (choices SUPPORT_CHOICES) unless the evidence holds no Chinese at all
    (SUPPORT_CHOICES_EN); support_choices(evidence) tells which."""
    english = not any(has_chinese(e) for e in evidence)
    system, user = (_SUPPORT_SYSTEM_EN, _SUPPORT_USER_EN) if english else (_SUPPORT_SYSTEM, _SUPPORT_USER)
    return _render(_template(system, user), evidence="\n".join(evidence), question=question)


def support_choices(evidence: Sequence[str]) -> tuple[str, str]:
    return SUPPORT_CHOICES if any(has_chinese(e) for e in evidence) else SUPPORT_CHOICES_EN


# ---------------------------------------------------------------- Chinese left in an English answer

_TERMS_SYSTEM = (
    "Translate each Chinese term from a document into English, as an English edition of the document would name it. "
    "Write place and person names in pinyin. Reply with one line per term, in the order given: the Chinese term, "
    '" = ", its English name. Example: 南京 = Nanjing'
)
_NUMBERED = re.compile(r"^\s*\d+\s*[.)、:：]\s*")  # a reply line's number, when the model adds one: "3. "
_EQUALS = re.compile(r"[=＝]")
TERMS_TOKENS_EACH = 12  # the reply's budget per term besides its copy: " = high-performance computing chips"
_TRANSLATE_SYSTEM = (
    "Translate the user's text into English. Keep every [n] marker and every number as written. Translate all "
    "Chinese words, including place and company names. Output only the translation."
)
_SENTENCE_SYSTEM = (
    "The user gives a question about a report and the report's answer to it. Write one short English sentence: the "
    "question restated as a statement with the answer in it. Use only what the question and the answer say; add no "
    "other fact. Copy every number in digits exactly as written (4,380 stays 4,380). Output only the sentence."
)


def translate_answer(
    text: str, generator: Generator, glossary: Glossary | None = None, question: str = ""
) -> Iterator[str]:
    """A checked Chinese answer in English, streamed; its amounts and dates are put in English in code first (420亿元
    -> 42 billion yuan; "2021年9月[1]" came back as "2021 September 2nd"), and the glossary's names follow their
    Chinese. A bare figure, with no Chinese word left once its amounts and dates are English, is written as a
    sentence answering the question: "2,318起" alone read "2,318 [1]", which does not say what was counted. Not for a
    question asking two things: around an answer to one part, the model made up the other."""
    source = _english_figures(text, glossary)
    bare = _bare_figure(source)
    if question and bare is not None and not asks_two_things(question):
        return generator.stream([("system", _SENTENCE_SYSTEM), ("user", f"Question: {question}\nAnswer: {bare}")])
    return generator.stream([("system", _TRANSLATE_SYSTEM), ("user", source)])


def kept_figures(english: str, text: str, glossary: Glossary | None = None, question: str = "") -> str:
    """translate_answer's English for the Chinese answer text, or the bare figure alone when the sentence written
    around it does not hold each of its figures as written ("2,318" came back as "Two thousand three hundred
    eighteen", "400 billion yuan" as "$400 billion") or states a number more often than the figure and the
    question do together: for "Of the projects the cluster backed, how many belonged to the five ecosystems?",
    "The cluster backed 2,047 projects, of which 2,047 belonged to ..."."""
    bare = _bare_figure(_english_figures(text, glossary))
    if bare is None:
        return english
    said = collections.Counter(NUMBER.findall(strip_markers(english)))
    given = collections.Counter(NUMBER.findall(bare))
    figures = [part.strip() for part in re.split(r"[，、；;。]|[,;.]\s", bare) if part.strip()]
    if all(f in english for f in figures) and not said - given - collections.Counter(NUMBER.findall(question)):
        return english
    return bare


def _english_figures(text: str, glossary: Glossary | None) -> str:
    """A Chinese answer with its amounts and dates in English and the glossary's names glossed."""
    return english_amounts(english_dates(glossary.gloss(text) if glossary else text)).strip()


def _bare_figure(source: str) -> str | None:
    """_english_figures' text as a figure alone, its measure word dropped ("2,318起" -> "2,318"); None when Chinese
    words are left in it."""
    bare = _COUNTED_BY.sub("", source)
    return None if has_chinese(bare) else bare


def untranslated_terms(text: str) -> list[str]:
    """The runs of Chinese characters in an English answer, each once, in order."""
    return list(dict.fromkeys(CJK_RUN.findall(text)))


# A Chinese measure word after a number in an English answer: "2,706个", "37家". Not 人, which reads as a noun.
_COUNTED_BY = re.compile(rf"(?<=\d)[ \t]*[{MEASURE_WORDS.replace('人', '')}]")


def translate_terms(text: str, generator: Generator, glossary: Glossary | None = None) -> str:
    """An English answer with the Chinese words the model left in it ("南京", "AI+医疗") translated: the glossary's
    terms by the glossary, the rest by the model in one short call; full-width punctuation made ASCII. A term
    the model does not translate stays. A measure word after a number goes: asked for "个" alone, the model said
    "one" ("2,706个" came back as "2,706 one")."""
    text = _COUNTED_BY.sub("", text)
    for term, english in (glossary.found(text) if glossary else {}).items():
        text = _replace(text, term, english)
    names = english_names(untranslated_terms(text), generator)
    for term in sorted(names, key=len, reverse=True):  # 南京市 before 南京
        text = _replace(text, term, names[term])
    text = ascii_punctuation(text)
    text = re.sub(r"\.[ \t]*((?:\[\d+\])+)", r" \1.", text)  # "chip.[1]" -> "chip [1]."
    text = re.sub(r"([,;])(?=[A-Za-z])", r"\1 ", text)
    return re.sub(r"[ \t]{2,}", " ", re.sub(r"[ \t]+(?=[,.;:)])", "", text)).strip()


def english_names(terms: Sequence[str], generator: Generator) -> dict[str, str]:
    """English names for Chinese terms, asked of the model in one call, a term per line. Each reply line repeats its
    term ("寒武纪 = Cambricon"), and a name counts only for the term its line repeats: numbered replies skipped a line
    now and then, and names matched by number slid onto the next terms. Asked for one term, the name alone will do.
    A term it leaves out or answers with Chinese is left out."""
    if not terms:
        return {}
    budget = sum(TERMS_TOKENS_EACH + len(t) for t in terms) + 8
    reply = "".join(generator.stream([("system", _TERMS_SYSTEM), ("user", "\n".join(terms))], max_tokens=budget))
    lines = [_NUMBERED.sub("", line) for line in reply.splitlines() if line.strip()]
    if len(terms) == 1 and len(lines) == 1 and not CJK_RUN.search(lines[0]):
        # One term, one line without Chinese: its name, alone or in the term's place ("scene = scene" for 场景).
        lines = [f"{terms[0]} = {_EQUALS.split(lines[0])[-1]}"]
    names: dict[str, str] = {}
    for line in lines:
        copy, *said = _EQUALS.split(line)
        term = _repeated(copy, terms) if said else None
        english = " ".join(said[0].split()).strip(" \"'") if said else ""  # "a = a city": the first name
        if term and english and not CJK_RUN.search(english):
            names.setdefault(term, english)
    return names


def _repeated(copy: str, terms: Sequence[str]) -> str | None:
    """The term that the model's copy repeats: the same, or the only one it begins (the model drops a trailing 等)."""

    def bare(term: str) -> str:
        return re.sub(r"[\s\"'“”《》]", "", term)

    copy = bare(copy)
    same = [t for t in terms if bare(t) == copy]
    begun = [t for t in terms if len(copy) >= 2 and bare(t).startswith(copy)]
    return same[0] if same else begun[0] if len(begun) == 1 else None


def _replace(text: str, term: str, english: str) -> str:
    """Every occurrence of term replaced, with a space where it meets a Latin letter or digit:
    "RISC-V高性能CPU" -> "RISC-V high-performance CPU"."""

    def spaced(m: re.Match[str]) -> str:
        before, after = text[m.start() - 1 : m.start()], text[m.end() : m.end() + 1]
        left = " " if before.isascii() and before.isalnum() else ""
        right = " " if after.isascii() and after.isalnum() else ""
        return f"{left}{english}{right}"

    return re.sub(re.escape(term), spaced, text)


# ---------------------------------------------------------------- local model


class LocalGenerator:
    """A transformers chat model run in-process on CPU: loaded once, greedy decoding, streamed from a thread."""

    def __init__(
        self, settings: Settings, max_new_tokens: int = MAX_NEW_TOKENS, lookup_tokens: int = PROMPT_LOOKUP_TOKENS
    ) -> None:
        from bluebot.models import resolve_llm_model

        self.path = resolve_llm_model(settings)  # ModelError when the model is not prepared
        self.name = f"local:{settings.llm_model}"
        self.threads = settings.threads
        self.int8 = settings.int8
        self.max_new_tokens = max_new_tokens
        self.lookup_tokens = lookup_tokens
        self._model: Any = None
        self._tokenizer: Any = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._prefixes: dict[tuple[int, ...], Any] = {}  # system message tokens -> their key/value cache

    def _load(self) -> None:
        with self._load_lock:
            if self._model is not None:
                return
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            torch.set_num_threads(self.threads)
            # bf16 is fast on CPUs with AMX/AVX512-bf16 (MODELS.md); elsewhere bf16 matmuls are emulated and slow.
            dtype = torch.bfloat16 if _cpu_has_bf16() else torch.float32
            try:
                self._tokenizer = AutoTokenizer.from_pretrained(str(self.path))
                self._model = AutoModelForCausalLM.from_pretrained(str(self.path), dtype=dtype).eval()
                if self.int8 and _cpu_flags() & INT8_FLAGS:  # BLUEBOT_INT8
                    from bluebot.int8 import quantize_model

                    with torch.inference_mode():
                        quantize_model(self._model)  # int8.py: decoding ~2x, the prompt's pass a third faster
            except Exception as exc:  # noqa: BLE001 - a corrupt or partial folder fails in many ways; all mean "set up again"
                raise ModelError(f"cannot load the answer model from {self.path}: {exc}; run `bluebot setup`") from None

    def _prompt_ids(self, messages: Messages) -> list[int]:
        chat = [{"role": role, "content": content} for role, content in messages]
        ids = self._tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=True, return_dict=True)
        return list(ids["input_ids"])

    def _prefill(self, ids: list[int]) -> tuple[Any, Any]:
        """The key/value cache of the prompt and the logits of its last position. The system message's cache is
        computed once and copied (the instructions are the same for every question: a third of the prompt)."""
        import torch

        start = _system_end(ids, self._tokenizer.convert_tokens_to_ids("<|im_start|>"))
        prefix = tuple(ids[:start])
        if start and prefix not in self._prefixes:
            cache = _new_cache()
            self._model(input_ids=torch.tensor([list(prefix)]), cache=cache, use_cache=True, logits_to_keep=1)
            if len(self._prefixes) >= MAX_CACHED_PREFIXES:
                self._prefixes.pop(next(iter(self._prefixes)))
            self._prefixes[prefix] = cache
        cache = copy.deepcopy(self._prefixes[prefix]) if start else _new_cache()
        out = self._model(input_ids=torch.tensor([ids[start:]]), cache=cache, use_cache=True, logits_to_keep=1)
        return cache, out.logits[0, -1]

    def _tokens(self, ids: list[int], max_new_tokens: int) -> Iterator[list[int]]:
        """Greedy decoding with prompt lookup: the tokens that followed the latest earlier occurrence of the
        answer's last words are checked in the same forward pass as the next token, and kept while they are what
        greedy decoding would have chosen (the answer copies figures and names from the passages). The first token
        comes straight from the prompt's forward pass, which computes the logits of its last position only.
        Yields the new tokens of each step."""
        import torch

        cache, logits = self._prefill(ids)
        stop = set(_as_list(self._model.generation_config.eos_token_id)) | {self._tokenizer.eos_token_id}
        sequence, made = list(ids), 0
        token = int(logits.argmax())
        while True:
            sequence.append(token)
            made += 1
            yield [token]
            if token in stop or made >= max_new_tokens:
                return
            guesses = _lookup(sequence, self.lookup_tokens)[: max_new_tokens - made - 1]
            out = self._model(input_ids=torch.tensor([[token, *guesses]]), cache=cache, use_cache=True)
            best = out.logits[0].argmax(-1).tolist()
            kept = 0
            while kept < len(guesses) and best[kept] == guesses[kept] and guesses[kept] not in stop:
                kept += 1
            if kept:
                sequence.extend(guesses[:kept])
                made += kept
                yield guesses[:kept]
            if len(guesses) > kept:
                cache.crop(kept - len(guesses))  # the rejected guesses leave the cache
            token = best[kept]

    def stream(self, messages: Messages, max_tokens: int | None = None) -> Iterator[str]:
        self._load()
        import torch

        with self._run_lock:  # one generation at a time: two would halve each other's speed
            ids = self._prompt_ids(messages)
            made: list[int] = []
            shown = ""
            try:
                with torch.inference_mode():
                    for tokens in self._tokens(ids, max_tokens or self.max_new_tokens):
                        made.extend(tokens)
                        text = self._tokenizer.decode(made, skip_special_tokens=True)
                        if not text.endswith("\ufffd") and len(text) > len(shown):  # not half a character
                            yield text[len(shown) :]  # a consumer that goes away closes this: decoding stops
                            shown = text
            except Exception as exc:  # noqa: BLE001 - a failing model becomes a GenerationError for the caller
                raise GenerationError(f"the local model failed while answering: {exc}") from None

    def choice_probabilities(self, messages: Messages, choices: Sequence[str]) -> list[float]:
        """The probability of each choice as the reply's first token, normalised over the choices: one forward
        pass over the prompt, no decoding."""
        self._load()
        import torch

        ids = [self._tokenizer.encode(choice, add_special_tokens=False)[0] for choice in choices]
        try:
            with self._run_lock, torch.inference_mode():
                _, logits = self._prefill(self._prompt_ids(messages))
        except Exception as exc:  # noqa: BLE001 - as in stream(): the caller gets a GenerationError
            raise GenerationError(f"the local model failed while checking an answer: {exc}") from None
        return [float(p) for p in torch.softmax(logits.float()[ids], dim=0)]


MAX_CACHED_PREFIXES = 8  # system messages: answer (zh, en), rewrite (zh, en), figure check, translations


def _new_cache() -> Any:
    from transformers import DynamicCache

    return DynamicCache()


def _as_list(value: int | list[int] | None) -> list[int]:
    return [] if value is None else [value] if isinstance(value, int) else list(value)


def _system_end(ids: list[int], im_start: int) -> int:
    """Where the second chat message starts (the end of the system message), or 0 when there is none."""
    starts = [i for i, t in enumerate(ids) if t == im_start]
    return starts[1] if len(starts) > 1 else 0


def _lookup(sequence: list[int], count: int, longest: int = 3) -> list[int]:
    """Up to count tokens that followed the latest earlier occurrence of the sequence's last 3, 2 or 1 tokens."""
    if count <= 0:
        return []
    for n in range(longest, 0, -1):
        tail = sequence[-n:]
        for start in range(len(sequence) - n - 1, -1, -1):
            if sequence[start : start + n] == tail:
                return sequence[start + n : start + n + count]
    return []


VNNI_FLAGS = {"avx512_vnni", "avx_vnni", "amx_int8"}  # int8 products summed in 32 bits: about 2x bf16 (int8.py)
INT8_FLAGS = VNNI_FLAGS | {"avx2"}  # AVX2 alone: 7-bit weights, the prompt's pass 2.4x faster than float32 (int8.py)
BF16_FLAGS = {"amx_bf16", "avx512_bf16"}  # bf16 arithmetic


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _cpu_has_bf16() -> bool:
    return bool(_cpu_flags() & BF16_FLAGS)


# ---------------------------------------------------------------- OpenAI-compatible endpoint


class OpenAIGenerator:
    """Any OpenAI-compatible chat endpoint (Qwen, OpenAI, vLLM, Ollama, llama.cpp server) through
    langchain's ChatOpenAI. The key is read from the environment at first use and never stored elsewhere."""

    def __init__(self, settings: Settings, timeout: float = 30.0, max_new_tokens: int = MAX_NEW_TOKENS) -> None:
        self.base_url = settings.llm_base_url
        self.model = settings.llm_model
        self.name = f"openai:{settings.llm_model}"
        self.timeout = timeout
        self.max_new_tokens = max_new_tokens
        self._chat: Any = None

    def _client(self) -> Any:
        if self._chat is None:
            from langchain_openai import ChatOpenAI
            from pydantic import SecretStr

            key = os.environ.get("BLUEBOT_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY") or ""
            if not key and not self.base_url:
                raise ModelError(
                    "the openai backend needs BLUEBOT_LLM_BASE_URL (a local server) or BLUEBOT_LLM_API_KEY"
                )
            self._chat = ChatOpenAI(
                model=self.model,
                base_url=self.base_url or None,
                # Local servers (llama.cpp, Ollama, vLLM) take any key; the client insists on one.
                api_key=SecretStr(key or "no-key"),
                timeout=self.timeout,
                max_retries=1,  # a dead endpoint must fail fast: the extractive fallback is waiting
                temperature=0,
                max_tokens=self.max_new_tokens,
            )
        return self._chat

    def stream(self, messages: Messages, max_tokens: int | None = None) -> Iterator[str]:
        import httpx
        import openai

        chat = self._client()
        where = self.base_url or "api.openai.com"
        try:
            for chunk in chat.stream(list(messages), max_tokens=max_tokens or self.max_new_tokens):
                text = (
                    chunk.content
                    if isinstance(chunk.content, str)
                    else "".join(
                        part.get("text", "") if isinstance(part, dict) else str(part) for part in chunk.content
                    )
                )
                if text:
                    yield text
        except openai.AuthenticationError:
            raise GenerationError(f"{where} refused the API key: set BLUEBOT_LLM_API_KEY") from None
        except openai.APIStatusError as exc:
            raise GenerationError(f"{where} answered HTTP {exc.status_code} for model {self.model!r}") from None
        except (openai.APIConnectionError, openai.APITimeoutError, httpx.HTTPError):
            raise GenerationError(f"cannot reach the LLM endpoint {where}: is the server running?") from None
        except openai.OpenAIError as exc:
            raise GenerationError(f"the LLM endpoint {where} failed: {type(exc).__name__}") from None


# ---------------------------------------------------------------- citation markers and the extractive backend

_TRAILING = re.compile(r"[\s。．.！!？?；;，,]*$")


def add_marker(sentence: str, n: int, lang: Lang) -> str:
    """Put [n] after the sentence's last word and before its closing punctuation."""
    end = _TRAILING.search(sentence)
    cut = end.start() if end else len(sentence)
    space = " " if lang == "en" else ""
    return f"{sentence[:cut]}{space}[{n}]{sentence[cut:]}"


@dataclass(frozen=True)
class _Unit:
    text: str
    n: int  # passage number
    score: float
    context: str = ""  # scored with the text, not shown: a table's title for its rows


def _table_row(header: list[str], cells: list[str]) -> str:
    """ "优势 | 通用性强 | 低能耗" under "- | GPU | FPGA" -> "优势 — GPU：通用性强；FPGA：低能耗"."""
    if len(cells) <= 2 or len(header) != len(cells):
        return "：".join(c for c in cells if c and c != "-")
    pairs = "；".join(f"{h}：{c}" for h, c in zip(header[1:], cells[1:], strict=True) if c and c != "-")
    return f"{cells[0]} — {pairs}"


_LIST_ITEM = re.compile(r"^(?:[-•·]\s*)?[✓√]\s*|^[-•·]\s+")


def _units(text: str) -> list[tuple[str, str]]:
    """Answerable pieces of a passage, each with the context it is scored with: sentences; table rows with
    their column names (context: the table's title); short list items joined under their heading; and runs
    of short lines, an infographic as a PDF gives it ("达 3,176 亿元" / "批复规模"), joined into one statement."""
    units: list[tuple[str, str]] = []
    header: list[str] | None = None
    title = ""
    run: list[str] = []
    items: list[str] = []

    def flush() -> None:
        if items:
            heading = run.pop() if run else ""
            units.append((f"{heading}：{'、'.join(items)}" if heading else "、".join(items), ""))
            items.clear()
        if run:
            units.append((" ".join(run), ""))
            run.clear()

    for piece in split_pieces(text):
        if " | " in piece:
            if items:
                flush()
            if header is None:
                title = run.pop() if run else ""  # a table's title is context for its rows, not an answer
                flush()
                header = [c.strip() for c in piece.split(" | ")]
                continue
            units.append((_table_row(header, [c.strip() for c in piece.split(" | ")]), f"{title} {header[0]}"))
            continue
        item = _LIST_ITEM.sub("", piece).strip() if _LIST_ITEM.match(piece) else None
        if item is not None and len(item) < 30:
            if item:
                items.append(item)
        elif len(piece) < 30 and not piece.endswith(("。", "；", ".")):
            if items:
                flush()
            run.append(piece)
            if len(run) >= 6:
                flush()
        else:
            flush()
            units.append((item if item is not None else piece, ""))
    flush()
    return [(u, c) for u, c in units if len(u) >= 4]


class ExtractiveGenerator:
    """No model: the passage sentences and table rows that best answer the question, each cited. Instant.
    Not a chat model, so not a Generator: it needs the passages, not a prompt."""

    name = "extractive"
    max_units = 3
    max_chars = 420
    # A Chinese extract must share at least this share of the question's weighted words, or the passages are
    # taken not to answer it ("华为2024年的营收" shares only "2024年" with the report's sentences).
    min_coverage = 0.5

    def select(self, question: str, passages: Sequence[Passage]) -> tuple[list[_Unit], float]:
        """The chosen units, best first, and how much of the question the best one covers (0..1)."""
        q_tokens, asked = set(keyword_tokens(question)), asked_units(question)
        scored = []
        for p in passages:
            for text, context in _units(p.hit.chunk.text):
                holds_number = bool(asked) and any(not a.exempt and a.unit in asked for a in find_amounts(text))
                # The retrieval rank breaks ties and carries English questions, whose words rarely occur in the text.
                score = relevance(f"{context} {text}", q_tokens, asked) + 1.0 / p.n
                scored.append((_Unit(text, p.n, score, context), holds_number))
        if not scored:
            return [], 0.0
        scored.sort(key=lambda x: -x[0].score)
        best, best_has_number = scored[0]
        chosen = [best]
        for unit, holds_number in scored[1:]:
            if len(chosen) == self.max_units or unit.score < 0.75 * best.score or unit.score <= 1.0:
                continue
            if best_has_number and not holds_number:
                continue  # a number was asked for: a sentence without one is a caption or a heading
            if sum(len(u.text) for u in chosen) + len(unit.text) <= self.max_chars:
                chosen.append(unit)
        total = sum(token_weight(t) for t in q_tokens)
        shared = sum(token_weight(t) for t in q_tokens & set(keyword_tokens(f"{best.context} {best.text}")))
        return chosen, (shared / total if total else 0.0)

    def answer(self, question: str, lang: Lang, passages: Sequence[Passage], glossary: Glossary | None = None) -> str:
        chosen, coverage = self.select(question, passages)
        # English questions share almost no words with the Chinese text, so coverage only speaks for Chinese ones.
        if not chosen or (lang == "zh" and coverage < self.min_coverage):
            return REFUSAL[lang]
        if lang == "zh":
            return "报告原文摘录：\n" + "\n".join(f"- {add_marker(u.text, u.n, lang)}" for u in chosen)
        lines = [f"- {add_marker(english_reading(u.text, glossary), u.n, lang)}" for u in chosen]
        return "From the report (quoted in the original Chinese):\n" + "\n".join(lines)


def make_generator(backend: str, settings: Settings) -> Generator:
    """The LLM backend by name; "extractive" has no Generator (see ExtractiveGenerator)."""
    if backend == "local":
        return LocalGenerator(settings)
    if backend == "openai":
        return OpenAIGenerator(settings)
    raise ModelError(f"backend {backend!r} has no language model")
