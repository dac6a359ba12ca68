from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pytest

from bluebot.checks import MAX_DOUBT
from bluebot.config import Settings
from bluebot.embedding import HashingEmbedder
from bluebot.errors import BadQuestionError, GenerationError
from bluebot.generation import (
    REFUSAL,
    SUPPORT_CHOICES,
    ChoiceScorer,
    ExtractiveGenerator,
    LocalGenerator,
    Messages,
    OpenAIGenerator,
    _lookup,
    _system_end,
    answer_messages,
    kept_figures,
    rewrite_fallback,
    rewrite_question,
    support_messages,
    translate_answer,
)
from bluebot.passages import Passage, build_passages
from bluebot.pipeline import Bot
from bluebot.text import detect_lang
from bluebot.types import Answer, Chunk, Hit, Progress, Turn

TOTAL = "2024年中国AI产业领域：共有投资案例 **1,156** 起，披露总投资金额近 **850** 亿元。"
HANGZHOU = "2024年，杭州AI产业领域获投的企业有54家，披露融资规模过亿的企业有14家。"
CHIPS = "AI芯片主要技术路线对比\n- | GPU | FPGA\n优势 | 通用性强 | 可编程\n劣势 | 功耗高 | 价格较高"


class FakeGenerator:
    """Replies from a queue, streamed a few characters at a time; every prompt is kept (STYLE.md)."""

    def __init__(self, replies: Iterable[str | Exception], name: str = "local:fake") -> None:
        self.replies: deque[str | Exception] = deque(replies)
        self.calls: list[list[tuple[str, str]]] = []
        self.name = name

    def stream(self, messages: Messages, max_tokens: int | None = None) -> Iterator[str]:
        self.calls.append(list(messages))
        reply = self.replies.popleft()
        if isinstance(reply, Exception):
            raise reply
        for i in range(0, len(reply), 4):
            yield reply[i : i + 4]


def passages(*texts: str) -> list[Passage]:
    chunks = [Chunk(f"c{i}", t, "corpus/report.txt", f"section {i}", i, "zh") for i, t in enumerate(texts)]
    return [Passage(i + 1, Hit(c, 1.0 / (i + 1), i + 1, None, 0.5), c.text) for i, c in enumerate(chunks)]


class FakeScorer(FakeGenerator):
    """A FakeGenerator that also scores one-word replies, as the local model does: (P(yes), P(no)) from a queue."""

    def __init__(self, replies: Iterable[str | Exception], scores: Iterable[tuple[float, float] | Exception]) -> None:
        super().__init__(replies)
        self.scores: deque[tuple[float, float] | Exception] = deque(scores)
        self.scored: list[list[tuple[str, str]]] = []

    def choice_probabilities(self, messages: Messages, choices: Sequence[str]) -> list[float]:
        self.scored.append(list(messages))
        score = self.scores.popleft()
        if isinstance(score, Exception):
            raise score
        return list(score)


def make_bot(settings: Settings, replies: Iterable[str | Exception] = ()) -> tuple[Bot, FakeGenerator]:
    fake = FakeGenerator(replies)
    bot = Bot(settings, embedder=HashingEmbedder(), generator=fake)
    bot.ingest()
    return bot, fake


# ---------------------------------------------------------------- extracts


def test_extractive_answer_cites_and_translates_amounts() -> None:
    extractive = ExtractiveGenerator()
    zh = extractive.answer("2024年中国AI产业领域共有多少起投资案例？", "zh", passages(HANGZHOU, TOTAL))
    assert "1,156" in zh and zh.endswith("[2]。")
    en = extractive.answer("How much was invested in China's AI sector in 2024?", "en", passages(TOTAL))
    assert "(85 billion yuan) [1]" in en and en.startswith("From the report")
    row = extractive.answer("FPGA芯片的劣势是什么？", "zh", passages(CHIPS))
    assert "劣势 — GPU：功耗高；FPGA：价格较高[1]" in row
    assert extractive.answer("英伟达的营收是多少？", "zh", passages(TOTAL, CHIPS)) == REFUSAL["zh"]


# ---------------------------------------------------------------- the pipeline


def test_ask_stream_yields_deltas_then_the_answer(settings: Settings) -> None:
    reply = "2024年中国AI产业领域共有投资案例1,156起[1]。"
    bot, fake = make_bot(settings, [reply])
    parts = list(bot.ask_stream("2024年中国AI产业领域共有多少起投资案例？", backend="local"))
    *events, answer = parts
    # what it is doing while the reader waits, then the text as it is generated, then the check
    steps = [e for e in events if isinstance(e, Progress)]
    assert steps == [Progress("search"), Progress("read", len(answer.retrieved)), Progress("check")]  # type: ignore[union-attr]
    assert events.index(steps[1]) < events.index(next(e for e in events if isinstance(e, str)))
    deltas = [e for e in events if isinstance(e, str)]
    assert len(deltas) > 1 and "".join(deltas) == reply
    assert isinstance(answer, Answer)
    assert answer.text.startswith(reply[:-1]) and answer.backend == "local:fake" and not answer.refused
    assert any("1,156" in c.chunk.text for c in answer.citations)  # added by the checks if [1] lacks it
    assert answer.retrieved and answer.standalone_question == answer.question
    assert answer.latency_ms >= 0 and answer.notice == "" and answer.ungrounded_numbers == []
    system, user = fake.calls[0]
    assert system[0] == "system" and "[1]" in user[1] and "问题：2024年" in user[1]


def test_the_final_text_is_the_checked_one(settings: Settings) -> None:
    bot, _ = make_bot(settings, ["共有投资案例1,156起。"])
    parts = list(bot.ask_stream("2024年中国AI产业领域共有多少起投资案例？", backend="local"))
    assert "".join(p for p in parts if isinstance(p, str)) == "共有投资案例1,156起。"
    assert parts[-1].text == "共有投资案例1,156起[1]。"  # type: ignore[union-attr]


def test_english_question_gets_english_units(settings: Settings) -> None:
    settings = settings.with_(english_path="direct")  # the English prompt itself
    bot, fake = make_bot(settings, ["Disclosed investment reached nearly 850 billion yuan [1]."])
    answer = bot.ask("How much AI investment was disclosed in China in 2024?", backend="local")
    assert answer.lang == "en" and "85 billion yuan" in answer.text and "850 billion" not in answer.text
    assert len(fake.calls) == 1  # one generation, in the question's language
    prompt = fake.calls[0][1][1]
    assert prompt.startswith("Passages:") and "850 亿元 (85 billion yuan)" in prompt  # the reading to copy
    bot, fake = make_bot(settings, ["共有投资案例1,156起[1]。"])
    bot.ask("2024年中国AI产业领域共有多少起投资案例？", backend="local")
    assert "billion" not in fake.calls[0][1][1]  # a Chinese prompt is the report's text as it is


def test_weak_evidence_refuses_without_asking_the_model(settings: Settings) -> None:
    bot, fake = make_bot(settings, ["should not be used"])
    bot.evidence_floors = {"zh": 1.01, "en": 1.01}
    answer = bot.ask("2024年北京的AI投资金额是多少？", backend="local")
    assert answer.refused and answer.text == REFUSAL["zh"] and answer.citations == []
    assert fake.calls == []


def test_model_refusal_becomes_the_fixed_sentence(settings: Settings) -> None:
    settings = settings.with_(english_path="direct")  # the English prompt itself
    bot, _ = make_bot(settings, ["The passages do not mention Beijing.", "资料中没有提到北京。"])
    answer = bot.ask("How much AI investment went to Beijing in 2024?", backend="local")
    assert answer.refused and answer.text == "The report does not say."


def test_an_english_decline_is_read_again_in_chinese(settings: Settings) -> None:
    settings = settings.with_(english_path="direct")  # the English prompt itself
    replies = [
        "The report does not say.",
        "披露总投资金额近850亿元[1]。",
        "Disclosed investment was nearly 85 billion yuan.",
    ]
    bot, fake = make_bot(settings, replies)
    answer = bot.ask("How much AI investment was disclosed in China in 2024?", backend="local")
    assert not answer.refused and answer.text == "Disclosed investment was nearly 85 billion yuan [1]."
    assert fake.calls[0][0][1].startswith("You answer questions") and fake.calls[1][0][1].startswith("你是报告问答助手")
    assert "850" in answer.citations[0].chunk.text and "extra_calls" in answer.timings_ms
    # a Chinese reading that declines too keeps the decline: two generations, no more
    bot, fake = make_bot(settings, ["The report does not say.", REFUSAL["zh"]])
    answer = bot.ask("How much AI investment went to Beijing in 2024?", backend="local")
    assert answer.refused and answer.text == REFUSAL["en"] and len(fake.calls) == 2
    # an answer is one generation
    bot, fake = make_bot(settings, ["There were 1,156 deals [1]."])
    assert bot.ask("How many AI deals were there in 2024?", backend="local").text == "There were 1,156 deals [1]."
    assert len(fake.calls) == 1


def test_an_english_question_asking_for_one_thing_is_read_in_chinese_two_things_in_english(settings: Settings) -> None:
    bot, fake = make_bot(settings, ["共有投资案例1,156起[1]。", "There were 1,156 deals [1]."])
    assert bot.ask("How many AI deals were there in 2024?", backend="local").text == "There were 1,156 deals [1]."
    assert fake.calls[0][0][1].startswith("你是报告问答助手") and fake.calls[1][0][1].startswith("Translate")
    bot, fake = make_bot(settings, ["1,156 deals and nearly 85 billion yuan [1]."])
    answer = bot.ask("How many AI deals were there in 2024, and how much did they raise?", backend="local")
    assert answer.text == "1,156 deals and nearly 85 billion yuan [1]." and len(fake.calls) == 1
    assert fake.calls[0][0][1].startswith("You answer questions")


def test_english_questions_can_be_read_in_chinese_first(settings: Settings) -> None:
    settings = settings.with_(english_path="chinese")
    replies = ["GPU的劣势是功耗高[1]。", "The GPU's weakness is high power consumption [1]."]
    bot, fake = make_bot(settings, replies)
    answer = bot.ask("What is the GPU's weakness in the chip comparison?", backend="local")
    assert answer.text == replies[1] and not answer.refused and len(fake.calls) == 2
    assert fake.calls[0][0][1].startswith("你是报告问答助手")  # the Chinese prompt
    assert fake.calls[1][1][1] == "GPU的劣势是功耗高。"  # then the translator
    assert "功耗高" in answer.citations[0].chunk.text
    # English readings the Chinese reading copied from the passages are not sent to be translated again
    bot, fake = make_bot(settings, ["GPU的劣势是功耗高 (high power consumption)[1]。", replies[1]])
    assert bot.ask("What is the GPU's weakness in the chip comparison?", backend="local").text == replies[1]
    assert fake.calls[1][1][1] == "GPU的劣势是功耗高。"
    # the translation streams as it is generated; the Chinese reading is not shown
    bot, _ = make_bot(settings, replies)
    *events, answer = bot.ask_stream("What is the GPU's weakness in the chip comparison?", backend="local")
    deltas = [e for e in events if isinstance(e, str)]
    assert len(deltas) > 1 and "".join(deltas) == "The GPU's weakness is high power consumption [1]."
    assert isinstance(answer, Answer) and answer.text == replies[1]
    # when the Chinese reading declines, the model answers in English, and is not asked in Chinese again
    replies = ["报告中没有找到相关信息。", "The GPU consumes much power [1]."]
    bot, fake = make_bot(settings, replies)
    answer = bot.ask("What is the GPU's weakness in the chip comparison?", backend="local")
    assert answer.text == replies[1] and len(fake.calls) == 2
    assert fake.calls[1][0][1].startswith("You answer questions")
    replies = ["报告中没有找到相关信息。", "The report does not say."]
    bot, fake = make_bot(settings, replies)
    answer = bot.ask("What is the GPU's weakness in the chip comparison?", backend="local")
    assert answer.refused and len(fake.calls) == 2
    # one figure is one thing: read in Chinese, from passages giving the English names of the terms that share a
    # word with the question; no other name, and no amount's reading (the answer is translated, its amounts in code)
    (settings.corpus_dir / "glossary.tsv").write_text("投资案例\tinvestment deals\n杭州\tHangzhou\n", encoding="utf-8")
    bot, fake = make_bot(settings, ["共有投资案例1,156起[1]。", "There were 1,156 deals [1]."])
    assert bot.ask("How many AI deals were there in 2024?", backend="local").text == "There were 1,156 deals [1]."
    system, prompt = fake.calls[0][0][1], fake.calls[0][1][1]
    assert system.startswith("你是报告问答助手") and "投资案例 (investment deals)" in prompt
    assert "杭州" in prompt and "(Hangzhou)" not in prompt and "850 亿元" in prompt and "billion" not in prompt


def test_an_english_question_over_english_passages_is_answered_in_english_at_once(
    settings: Settings, tmp_path: Path
) -> None:
    # the Chinese reading is for Chinese passages; English ones are read in English, in one generation
    corpus = tmp_path / "guide"
    corpus.mkdir()
    (corpus / "backups.md").write_text(
        "# Backups\n\nThe backup tool keeps seven daily archives and four weekly ones by default. "
        "Old archives are removed after each run.\n",
        encoding="utf-8",
    )
    settings = settings.with_(corpus_dir=corpus, index_dir=tmp_path / "guide-index")
    reply = "The tool keeps seven daily archives [1]."
    bot, fake = make_bot(settings, [reply])
    answer = bot.ask("How many daily archives does the backup tool keep?", backend="local")
    assert answer.text == reply and not answer.refused and len(fake.calls) == 1
    assert fake.calls[0][0][1].startswith("You answer questions")  # the English prompt, not the Chinese one
    shown = build_passages(bot.search("How many daily archives?", lang="en"), "How many daily archives?")
    assert not bot.reads_in_chinese("How many daily archives?", "en", shown)
    assert bot.reads_in_chinese("How many daily archives?", "en", passages(TOTAL))  # Chinese passages


TWO_THINGS = "How many AI investment deals were there in China in 2024, and how much did they raise?"


def test_bot_messages_are_the_prompt_of_the_answers_first_generation(settings: Settings) -> None:
    # benchmarks time the prompt pass on bot.messages: it must be what ask() sends, for each way of reading
    for question, reply in (
        ("2024年共有多少起AI投资案例？", "共有投资案例1,156起[1]。"),
        ("How many AI deals were there in 2024?", "共有投资案例1,156起[1]。"),  # one thing: read in Chinese
        (TWO_THINGS, "There were 1,156 deals raising nearly 85 billion yuan [1]."),  # two: in English
    ):
        bot, fake = make_bot(settings, [reply, "There were 1,156 deals [1]."])
        lang = detect_lang(question)
        shown = build_passages(bot.search(question, lang=lang), question)
        bot.ask(question, backend="local")
        assert fake.calls[0] == list(bot.messages(question, lang, shown))
    assert bot.messages(TWO_THINGS, "en", shown) != bot.messages(TWO_THINGS, "en", shown, in_chinese=True)


def test_a_chinese_reply_to_an_english_question_is_read_in_chinese_and_translated(settings: Settings) -> None:
    replies = ["2024年共有投资案例1,156起[1]。", "共有投资案例1,156起[1]。", "There were 1,156 deals in 2024."]
    bot, fake = make_bot(settings, replies)
    answer = bot.ask(TWO_THINGS, backend="local")
    # (the amount asked for too, which the passage states with the count, is added: checks._complete_pair)
    assert answer.text == "There were 1,156 deals in 2024 (85 billion yuan) [1]." and answer.backend == "local:fake"
    assert fake.calls[2][1][1] == "共有投资案例1,156起。"  # the translator gets the answer without its markers
    # a reply that stays Chinese falls back to the report's own sentences
    bot, _ = make_bot(settings, ["2024年共有投资案例1,156起[1]。", "共有投资案例1,156起[1]。", "共有投资案例1,156起。"])
    answer = bot.ask(TWO_THINGS, backend="local")
    assert answer.backend == "extractive" and "did not answer in English" in answer.notice
    assert answer.text.startswith("From the report") and answer.citations


def test_chinese_terms_left_in_an_english_answer_are_translated(settings: Settings) -> None:
    settings = settings.with_(english_path="direct")  # the English prompt itself
    reply = "Shenzhen, Beijing,成都 and杭州 set up AI funds; RISC-V高性能CPU chips got money [1]."
    bot, fake = make_bot(settings, [reply, "成都 = Chengdu\n杭州 = Hangzhou\n高性能 = high-performance"])
    answer = bot.ask("Which cities have set up AI industry funds?", backend="local")
    assert answer.text == (
        "Shenzhen, Beijing, Chengdu and Hangzhou set up AI funds; RISC-V high-performance CPU chips got money [1]."
    )
    assert fake.calls[1][1] == ("user", "成都\n杭州\n高性能") and answer.citations


def test_a_measure_word_after_a_number_is_dropped_not_translated(settings: Settings) -> None:
    settings = settings.with_(english_path="direct")  # the English prompt itself
    reply = "Hangzhou had 54家 funded firms, 14家 of them raising over 100 million yuan [1]."
    bot, fake = make_bot(settings, [reply])
    answer = bot.ask("How many AI companies in Hangzhou got funding?", backend="local")
    assert answer.text == "Hangzhou had 54 funded firms, 14 of them raising over 100 million yuan [1]."
    assert len(fake.calls) == 1


def test_a_single_term_translated_without_its_number_is_used(settings: Settings) -> None:
    settings = settings.with_(english_path="direct")  # the English prompt itself
    reply = "Four directions: scenario opening,标杆示范 and ecosystem building [1]."
    bot, _ = make_bot(settings, [reply, "Benchmark demos"])
    answer = bot.ask("Around which four directions is the scenario company opening resources?", backend="local")
    assert answer.text == "Four directions: scenario opening, Benchmark demos and ecosystem building [1]."


def test_an_untranslatable_term_stays_and_a_failed_translation_keeps_the_answer(settings: Settings) -> None:
    settings = settings.with_(english_path="direct")  # the English prompt itself
    replies = ["Funds were set up in 成都 [1].", "1. 成都", "Funds went to 成都 [1].", GenerationError("down")]
    bot, _ = make_bot(settings, replies)
    assert bot.ask("Which cities set up AI funds?", backend="local").text == "Funds were set up in 成都 [1]."
    answer = bot.ask("Which cities set up AI funds?", backend="local")
    assert answer.text == "Funds went to 成都 [1]." and "untranslated" in answer.notice
    assert answer.backend == "local:fake"


def test_an_english_answer_without_chinese_costs_no_extra_call(settings: Settings) -> None:
    bot, fake = make_bot(settings, ["Nearly 85 billion yuan in 1,156 deals [1]."])
    bot.ask(TWO_THINGS, backend="local")
    assert len(fake.calls) == 1


def scoring_bot(
    settings: Settings, replies: list[str], scores: list[tuple[float, float] | Exception]
) -> tuple[Bot, FakeScorer]:
    fake = FakeScorer(replies, scores)
    bot = Bot(settings, embedder=HashingEmbedder(), generator=fake)
    bot.ingest()
    return bot, fake


def test_figures_the_model_doubts_answer_the_question_are_declined(settings: Settings) -> None:
    bot, fake = scoring_bot(settings, ["2024年AI芯片领域投资金额为850亿元[1]。"], [(0.3, 0.7)])
    answer = bot.ask("2024年AI芯片领域的投资金额是多少？", backend="local")
    assert answer.refused and answer.text == REFUSAL["zh"] and answer.citations == []
    assert "does not answer the question" in answer.notice
    prompt = fake.scored[0][-1][1]  # the sentence holding 850亿元, and the question
    assert "披露总投资金额近 850 亿元" in prompt and "2024年AI芯片领域的投资金额是多少？" in prompt


def test_figures_the_model_confirms_stand(settings: Settings) -> None:
    bot, fake = scoring_bot(settings, ["披露总投资金额近850亿元[1]。"], [(0.9, 0.1)])
    answer = bot.ask("2024年中国AI产业披露的投资总额是多少？", backend="local")
    assert not answer.refused and "850亿元" in answer.text and len(fake.scored) == 1


def test_an_answer_without_one_figure_sentence_is_judged_on_its_passages(settings: Settings) -> None:
    bot, fake = scoring_bot(settings, ["GPU通用性强[1]。"], [(0.6, 0.4)])
    answer = bot.ask("GPU的优势是什么？", backend="local")
    assert not answer.refused and len(fake.scored) == 1 and "通用性强" in fake.scored[0][-1][1]
    assert [c.score for c in answer.checks if c.name == "evidence-answers"] == [0.4]
    # read from its passages, the same limit holds: a doubt above it declines
    bot, fake = scoring_bot(settings, ["GPU通用性强[1]。"], [(0.45, 0.55)])
    answer = bot.ask("GPU的优势是什么？", backend="local")
    assert answer.refused and "doubt 0.55" in answer.notice
    # figures from two sentences answer a question of two parts: judged on the cited passages, not the sentences
    two_parts = "2024年共有多少起投资案例？Top5地区合计多少起？"
    for doubt, refused in ((0.3, False), (0.5, True)):
        bot, fake = scoring_bot(settings, ["共有投资案例1,156起，Top5地区合计975起[1]。"], [(1 - doubt, doubt)])
        assert bot.ask(two_parts, backend="local").refused is refused
        assert "披露总投资金额" in fake.scored[0][-1][1]  # the whole passage, beyond the sentences with the figures
    bot, fake = scoring_bot(settings, ["披露总投资金额近850亿元[1]。"], [GenerationError("the local model failed")])
    answer = bot.ask("2024年中国AI产业披露的投资总额是多少？", backend="local")
    assert not answer.refused and "850亿元" in answer.text and "the local model failed" in answer.notice


def test_an_english_passage_is_judged_with_an_english_prompt(settings: Settings) -> None:
    settings = settings.with_(english_path="direct")  # the English prompt itself
    (settings.corpus_dir / "guide.md").write_text("# Backups\n\nRun rsync -a every night to copy /home.\n")
    bot, fake = scoring_bot(settings, ["Use rsync -a [1]."], [(0.9, 0.1)])
    answer = bot.ask("Which command copies /home every night?", backend="local")
    assert not answer.refused and fake.scored[0][0][1].startswith("Judge whether the passage")


def test_follow_up_is_rewritten_by_the_model(settings: Settings) -> None:
    rewritten = "2024年杭州AI产业领域获投的企业有多少家？"
    bot, fake = make_bot(settings, [rewritten, "2024年杭州AI产业领域获投的企业有54家[1]。"])
    history = [Turn("user", "2024年全国AI产业领域有多少起投资案例？"), Turn("assistant", "共有投资案例1,156起[1]。")]
    answer = bot.ask("那杭州呢？", history=history, backend="local")
    assert answer.standalone_question == rewritten and answer.question == "那杭州呢？"
    assert "2024年全国AI产业领域有多少起投资案例" in fake.calls[0][1][1]  # the rewrite saw the conversation
    assert rewritten in fake.calls[1][1][1]  # the answer prompt got the standalone question
    assert "54家" in answer.citations[0].chunk.text


def test_a_bad_rewrite_is_replaced_by_the_deterministic_one(settings: Settings) -> None:
    bot, _ = make_bot(settings, ["Sure! Here is the question you wanted.", "杭州获投企业有54家[1]。"])
    history = [Turn("user", "2024年AI产业领域获投企业有多少家？"), Turn("assistant", "……")]
    answer = bot.ask("那杭州呢？", history=history, backend="local")
    assert answer.standalone_question.endswith("那杭州呢？") and "获投" in answer.standalone_question
    # a follow-up the model hands back unchanged is not resolved either
    bot, _ = make_bot(settings, ["批复规模有多大?", "批复规模达2,442亿元[1]。"])
    history = [Turn("user", "杭州三大千亿母基金累计决策批复了多少支基金？"), Turn("assistant", "353支。")]
    answer = bot.ask("批复规模有多大？", history=history, backend="local")
    assert answer.standalone_question.endswith("批复规模有多大？") and "千亿" in answer.standalone_question
    bot, _ = make_bot(settings, ["那杭州呢？有多少家AI企业拿到了投资？", "54家[1]。"])
    history = [Turn("user", "2024年全国AI产业领域有多少起投资案例？"), Turn("assistant", "1,156起。")]
    answer = bot.ask("那杭州呢？有多少家AI企业拿到了投资？", history=history, backend="local")
    assert answer.standalone_question == "那杭州呢？有多少家AI企业拿到了投资？"  # long enough to stand alone
    # a rewrite that loses the follow-up's own name or year is not kept: it asks the previous question again
    history = [Turn("user", "What are the weaknesses of GPUs?"), Turn("assistant", "Low performance per watt.")]
    _, fake = make_bot(settings, ["What are the weaknesses of GPUs?", "What are the weaknesses of ASICs?"])
    assert rewrite_question("What about ASICs?", history, "en", fake) == "weaknesses GPUs What about ASICs?"
    assert rewrite_question("What about ASICs?", history, "en", fake) == "What are the weaknesses of ASICs?"
    history = [Turn("user", "How large was the market in 2023?"), Turn("assistant", "……")]
    _, fake = make_bot(settings, ["How large was the market in 2023?"])
    assert rewrite_question("And in 2030?", history, "en", fake).endswith("And in 2030?")


def test_follow_up_without_a_model_keeps_the_previous_terms(bot: Bot) -> None:
    assert rewrite_fallback("那它的劣势呢？", [Turn("user", "GPU芯片有什么优势？")]) == "GPU 芯片 优势 那它的劣势呢？"
    assert rewrite_fallback("And their weaknesses?", [Turn("user", "What are the strengths of FPGAs?")]) == (
        "strengths FPGAs And their weaknesses?"
    )
    history = [Turn("user", "2024年AI产业领域获投企业有多少家？"), Turn("assistant", "……")]
    answer = bot.ask("那杭州呢？", history=history)
    assert answer.backend == "extractive" and "获投" in answer.standalone_question
    assert "54家" in answer.text


def test_endpoint_down_falls_back_to_extractive(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BLUEBOT_LLM_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    # port 9 (discard) on loopback: nothing listens, the connection is refused at once
    bot = Bot(settings.with_(backend="openai", llm_base_url="http://127.0.0.1:9/v1"), embedder=HashingEmbedder())
    bot.ingest()
    started = time.perf_counter()
    answer = bot.ask("2024年中国AI产业领域共有多少起投资案例？")
    assert time.perf_counter() - started < 20
    assert answer.backend == "extractive" and "cannot reach the LLM endpoint http://127.0.0.1:9/v1" in answer.notice
    assert "1,156" in answer.text and answer.citations


def test_missing_local_model_falls_back_to_extractive(settings: Settings, tmp_path: Path) -> None:
    bot = Bot(settings.with_(backend="local", llm_model=str(tmp_path / "no-model")), embedder=HashingEmbedder())
    bot.ingest()
    answer = bot.ask("How many AI deals were there in China in 2024?")
    assert answer.backend == "extractive" and "no-model" in answer.notice and "bluebot setup" in answer.notice
    assert "1,156" in answer.text


def test_generation_failure_mid_answer_falls_back(settings: Settings) -> None:
    bot, _ = make_bot(settings, [GenerationError("the local model failed while answering: out of memory")])
    answer = bot.ask("2024年中国AI产业领域共有多少起投资案例？", backend="local")
    assert answer.backend == "extractive" and "out of memory" in answer.notice and "1,156" in answer.text


def test_extractive_backend_is_labelled(bot: Bot) -> None:
    answer = bot.ask("How much AI investment was disclosed in China in 2024?")
    assert answer.backend == "extractive" and "no language model" in answer.notice
    assert "85 billion yuan" in answer.text and answer.citations
    assert answer.ungrounded_numbers == []


def test_generators_are_created_once(settings: Settings) -> None:
    bot = Bot(settings.with_(llm_base_url="http://127.0.0.1:9/v1"), embedder=HashingEmbedder())
    first = bot.generator("openai")
    assert isinstance(first, OpenAIGenerator) and bot.generator("openai") is first


def test_empty_question(bot: Bot) -> None:
    with pytest.raises(BadQuestionError, match="empty"):
        bot.ask("  \u200b ")


# ---------------------------------------------------------------- the real model on the real report


@pytest.mark.slow
def test_local_model_answers_the_report(tmp_path: Path) -> None:
    from conftest import REPORT

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / REPORT.name).write_bytes(REPORT.read_bytes())
    bot = Bot(Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "index", backend="local"))
    bot.ingest()

    zh = bot.ask("2024年中国AI产业领域一共发生了多少起投资案例？")
    assert zh.backend.startswith("local:") and not zh.refused
    assert "1,156" in zh.text or "1156" in zh.text
    assert any("1,156" in c.chunk.text for c in zh.citations)

    en = bot.ask("What was the total disclosed investment amount in China's AI industry in 2024?")
    assert en.backend.startswith("local:") and en.lang == "en" and not en.refused
    assert "85 billion" in en.text and "850 billion" not in en.text
    assert any("850" in c.chunk.text for c in en.citations)

    # the figure check: the sentence holding 1,156 answers the deals question, not the AI-chip amount one
    generator = bot.generator("local")
    assert isinstance(generator, ChoiceScorer)
    evidence = ["根据清科创业私募通数据统计，2024年中国AI产业领域：共有投资案例 1,156 起，披露总投资金额近 850 亿元。"]
    deals = support_messages("2024年中国AI产业领域共有多少起投资案例？", evidence)
    yes, no = generator.choice_probabilities(deals, SUPPORT_CHOICES)
    assert abs(yes + no - 1) < 1e-6 and no <= MAX_DOUBT
    _, doubt = generator.choice_probabilities(support_messages("润苗直投基金的规模有多大？", evidence), SUPPORT_CHOICES)
    assert doubt > no


@pytest.mark.slow
def test_local_decoding_is_greedy_decoding(tmp_path: Path) -> None:
    """The local model's own loop (cached system message, prompt lookup) writes what transformers' plain greedy
    generate writes, token for token, the first time and with the cached system message."""
    import torch

    generator = LocalGenerator(Settings.from_env())
    for question in ["2024年一共发生了多少起投资案例？投资金额多少？", "How much was invested in 2024?"]:
        messages = answer_messages(question, detect_lang(question), passages(TOTAL))
        streamed = [part for part in generator.stream(messages, max_tokens=40)]
        again = "".join(generator.stream(messages, max_tokens=40))  # the system message's cache reused
        inputs = generator._tokenizer.apply_chat_template(
            [{"role": r, "content": c} for r, c in messages],
            add_generation_prompt=True,
            return_tensors="pt",
            return_dict=True,
        )
        with torch.inference_mode():
            out = generator._model.generate(**inputs, max_new_tokens=40, do_sample=False)
        plain = generator._tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
        assert "".join(streamed) == again == plain and ("1,156" in plain or "850" in plain) and len(streamed) > 1


def test_a_chinese_question_has_the_best_passage_last_next_to_it(settings: Settings) -> None:
    user = answer_messages("一共有多少起投资案例？", "zh", passages(HANGZHOU, TOTAL, CHIPS), best_last=True)[1][1]
    assert user.index("[3]") < user.index("[2]") < user.index("[1]") < user.index("一共有")
    assert HANGZHOU[:20] in user[user.index("[1]") :]  # the numbers stay the passages' own
    user = answer_messages("How many deals were there?", "en", passages(HANGZHOU, TOTAL, CHIPS))[1][1]
    assert user.index("[1]") < user.index("[2]") < user.index("[3]")
    bot, fake = make_bot(settings, ["共有投资案例1,156起[1]。"])
    bot.ask("2024年中国AI产业领域共有多少起投资案例？", backend="local")
    prompt = fake.calls[0][1][1]
    assert "[2]" in prompt and prompt.index("[2]") < prompt.index("[1]")  # what the pipeline asks


def test_prompt_lookup_proposes_what_followed_the_latest_match() -> None:
    sequence = [5, 6, 7, 8, 9, 1, 5, 6, 7, 2, 3, 5, 6]
    assert _lookup(sequence, 3) == [7, 2, 3]  # the latest earlier "5 6" was followed by 7, 2, 3
    assert _lookup([1, 2, 3, 4], 3) == []  # 4 never came before
    assert _lookup(sequence, 0) == [] and _lookup([4, 1, 4], 5) == [1, 4]
    assert _system_end([9, 1, 2, 9, 3, 9, 4], 9) == 3 and _system_end([1, 2, 3], 9) == 0


def test_an_english_prompt_names_the_glossary_terms_in_english(settings: Settings) -> None:
    settings = settings.with_(english_path="direct")  # the English prompt itself
    (settings.corpus_dir / "glossary.tsv").write_text("杭州\tHangzhou\n", encoding="utf-8")
    bot, fake = make_bot(settings, ["54 companies [1].", "54家[1]。"])
    bot.ask("How many AI companies in Hangzhou raised money in 2024?", backend="local")
    assert "杭州 (Hangzhou)AI产业领域" in fake.calls[0][1][1]
    bot.ask("2024年杭州有多少家AI企业获得投资？", backend="local")
    assert "(Hangzhou)" not in fake.calls[1][1][1]  # a Chinese question's prompt has no glosses


def test_glossary_terms_left_in_an_english_answer_need_no_model_call(settings: Settings) -> None:
    settings = settings.with_(english_path="direct")  # the English prompt itself
    (settings.corpus_dir / "glossary.tsv").write_text("杭州\tHangzhou\n", encoding="utf-8")
    bot, fake = make_bot(settings, ["54 companies in杭州 raised money [1]."])
    answer = bot.ask("How many AI companies in Hangzhou raised money in 2024?", backend="local")
    assert answer.text == "54 companies in Hangzhou raised money [1]." and len(fake.calls) == 1


def test_an_answer_that_announces_a_list_and_stops_is_not_an_answer(settings: Settings) -> None:
    bot, fake = make_bot(settings, ["优势分为三类：[1][2]。"])
    answer = bot.ask("GPU的优势有哪些？", backend="local")
    assert answer.refused and answer.text == REFUSAL["zh"]


def test_a_bare_figure_is_written_as_a_sentence_answering_the_question(settings: Settings) -> None:
    settings = settings.with_(english_path="chinese")
    question = "How many AI investment deals were there in China in 2024?"
    replies = ["1,156起[1]", "There were 1,156 AI investment deals in China in 2024."]
    bot, fake = make_bot(settings, replies)
    answer = bot.ask(question, backend="local")
    assert answer.text == "There were 1,156 AI investment deals in China in 2024 [1]."
    system, user = fake.calls[1]
    assert "restated as a statement" in system[1] and user[1] == f"Question: {question}\nAnswer: 1,156"
    # a sentence that loses the figure ("one thousand ...") gives way to the figure alone
    bot, fake = make_bot(settings, ["1,156起[1]", "One thousand one hundred fifty-six deals were made in 2024."])
    assert bot.ask(question, backend="local").text == "1,156 [1]"
    assert kept_figures("$100 billion went to AI.", "1000亿元") == "100 billion yuan"  # the unit, as written too
    assert kept_figures("100 billion yuan went to AI.", "1000亿元") == "100 billion yuan went to AI."
    # as does one stating the figure twice, once for what it is not; the question's own numbers may be restated
    question = "Of the Hangzhou AI companies funded in 2024, how many raised over 100 million yuan?"
    twice = "Hangzhou had 14 AI companies funded in 2024, of which 14 raised over 100 million yuan."
    bot, fake = make_bot(settings, ["14家[1]", twice])
    assert bot.ask(question, backend="local").text == "14 [1]"
    once = "14 of the Hangzhou AI companies funded in 2024 raised over 100 million yuan."
    bot, fake = make_bot(settings, ["14家[1]", once])
    assert bot.ask(question, backend="local").text == once.replace(".", " [1].")
    # an answer with words of its own is translated, not restated
    bot, fake = make_bot(settings, ["披露总投资金额近850亿元[1]。", "Disclosed investment was nearly 85 billion yuan."])
    bot.ask("How much was invested in AI in China in 2024?", backend="local")
    assert fake.calls[1][0][1].startswith("Translate") and "85 billion yuan" in fake.calls[1][1][1]


def test_a_bare_figure_for_one_part_of_a_two_part_question_is_not_made_a_sentence() -> None:
    fake = FakeGenerator(["July 2023."])
    "".join(translate_answer("2023年7月", fake, question="When were the measures issued, and by whom?"))
    assert fake.calls[0] == [("system", fake.calls[0][0][1]), ("user", "July 2023")]
    assert fake.calls[0][0][1].startswith("Translate")


def test_relate_scores_each_line_and_embeds_a_line_once(settings: Settings) -> None:
    class Counting(HashingEmbedder):
        embedded: list[str] = []

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            self.embedded.extend(texts)
            return super().embed_documents(texts)

    embedder = Counting()
    bot = Bot(settings, embedder=embedder)
    lines = ["杭州获投企业54家", "全国投资案例1,156起", "杭州获投企业54家"]
    scores = bot.relate("全国投资案例1,156起", lines)
    assert len(scores) == 3 and scores[1] == pytest.approx(1.0) and scores[0] == scores[2] < scores[1]
    assert bot.relate("杭州获投企业54家", lines[::-1]) == pytest.approx([1.0, scores[0], 1.0])
    assert embedder.embedded == ["杭州获投企业54家", "全国投资案例1,156起"]  # each line once, kept for the next answer


def test_a_figure_no_passage_states_is_never_shown_while_streaming_nor_after(settings: Settings) -> None:
    reply = "2024年共有投资案例1,156起[1]。同比增长37.5%[1]。"
    bot, _ = make_bot(settings, [reply])
    *deltas, answer = bot.ask_stream("2024年中国AI产业领域共有多少起投资案例？", backend="local")
    shown = "".join(d for d in deltas if isinstance(d, str))
    assert shown.startswith("2024年共有投资案例1,156起[1]") and "37" not in shown
    assert isinstance(answer, Answer) and "37.5" not in answer.text and "1,156" in answer.text
    assert [c.action for c in answer.checks if c.name == "unsupported-figures"] == ["changed"]


def test_the_answer_carries_its_stage_timings_and_first_token(settings: Settings) -> None:
    bot, _ = make_bot(settings, ["2024年共有投资案例1,156起[1]。"])
    answer = bot.ask("2024年中国AI产业领域共有多少起投资案例？", backend="local")
    assert {"retrieve", "prompt", "decode", "checks"} <= set(answer.timings_ms)
    assert answer.first_token_ms is not None and 0 <= answer.first_token_ms <= answer.latency_ms


def test_a_check_switched_off_by_name_does_not_run(settings: Settings) -> None:
    bot, fake = scoring_bot(settings, ["2024年AI芯片领域投资金额为850亿元[1]。"], [])
    bot.settings = settings.with_(without=frozenset({"evidence-answers"}))
    answer = bot.ask("2024年AI芯片领域的投资金额是多少？", backend="local")
    assert fake.scored == [] and [c.action for c in answer.checks if c.name == "evidence-answers"] == ["off"]
