"""The app: build_app(bot, settings) -> gr.Blocks with a chat tab and an Evaluate tab. Layout and wiring only.

Answers come from the Bot, the sources panel from render.py, feedback lines from feedback.py, evaluation runs
from evaluation.py and their tables from report.py; the handlers
here turn their results into chat messages. No `from __future__ import annotations`: Gradio reads the
handlers' type hints at run time to pass gr.SelectData / gr.LikeData / gr.Request.
"""

import logging
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import gradio as gr

from bluebot.config import BACKENDS, Settings
from bluebot.errors import BluebotError
from bluebot.evaluation import breakdown, iter_eval, load_cases
from bluebot.feedback import REASONS, Verdict, append_feedback, feedback_case
from bluebot.render import sources_html
from bluebot.report import category_table, failures_markdown, run_info, save_run, summary_table
from bluebot.text import clean_input
from bluebot.types import Answer, Progress, Turn

log = logging.getLogger(__name__)


class StreamingBot(Protocol):
    def ask_stream(
        self, question: str, history: Sequence[Turn] = (), backend: str | None = None, k: int | None = None
    ) -> Iterator[str | Progress | Answer]: ...


# Every string the user reads, per UI language. The reasons' order follows feedback.REASONS.
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "## bluebot · 2024 China AI Industry Investment Blue Book",
        "subtitle": "Ask in Chinese or English. Every answer cites the report's passages as [n].",
        "chat": "Chat",
        "placeholder": "**Ask about the report.** Click an answer to see its sources again.",
        "input": "Your question",
        "input_placeholder": "e.g. How many AI investment deals were there in China in 2024?",
        "send": "Send",
        "examples": "Try a question",
        "sources": "### Sources",
        "sources_empty": "The passages an answer cites appear here, with the supporting sentences highlighted. "
        "Click an earlier answer to see its sources again.",
        "sources_for": "Sources for",
        "understood": "searched as",
        "no_citations": "This answer cites no passage.",
        "closest": "The closest passages read were:",
        "no_section": "(no section)",
        "passage": "passage",
        "settings": "Settings",
        "backend": "Answer backend",
        "backend_local": "local model",
        "backend_openai": "OpenAI-compatible API",
        "backend_extractive": "extractive (quotes passages, no LLM)",
        "k": "Passages to retrieve",
        "language": "Language",
        "thinking": "_Searching the report…_",
        "search": "_Searching the report…_",
        "read": "_Reading {n} passages…_",
        "check": "_Checking the answer against its sources…_",
        "empty": "Please type a question about the report first, or click one of the examples.",
        "refused": "Not in the report: the bot found no passage that answers this, so it declined rather than guess.",
        "fallback": "The language model is unavailable; this is an extractive answer quoting the passages.",
        "notice": "Note",
        "ungrounded": "Check these numbers, they were not found in the cited passages: {numbers}",
        "error": "Sorry, that did not work",
        "unexpected": "Sorry, something went wrong on our side ({kind}). Please try again.",
        "feedback_saved": "Thanks, your feedback was saved.",
        "feedback_failed": "Your feedback could not be saved: {error}",
        "reason_0": "wrong number",
        "reason_1": "wrong source",
        "reason_2": "not in the report",
        "evaluate": "Evaluate",
        "eval_intro": "### Evaluate\nRun a test set (one JSON object per line: `id`, `question`, `keywords`, "
        "`evidence`, ...) through the whole pipeline and see which answers pass. The extractive backend is quick; "
        "a language model takes a while per case.",
        "eval_set": "Shipped test set",
        "eval_upload": "…or upload a test set (.jsonl)",
        "eval_run": "Run evaluation",
        "eval_none": "Choose a shipped test set or upload one first.",
        "eval_progress": "case {i} of {n}",
        "eval_done": "**{n} cases**, accuracy **{accuracy}**, {errors} failed to run · backend {backend} · {date}",
        "eval_files": "Results and report",
        "eval_chart": "Accuracy by category and language",
    },
    "zh": {
        "title": "## bluebot · 2024中国AI产业投资蓝皮书",
        "subtitle": "可用中文或英文提问。每个回答都以 [n] 标注引用的报告段落。",
        "chat": "对话",
        "placeholder": "**请就报告提问。** 点击任一回答可再次查看其出处。",
        "input": "你的问题",
        "input_placeholder": "例如：2024年中国AI产业共有多少起投资案例？",
        "send": "发送",
        "examples": "试试这些问题",
        "sources": "### 出处",
        "sources_empty": "回答引用的段落会显示在这里，支持回答的句子会高亮。点击之前的回答可再次查看其出处。",
        "sources_for": "出处：",
        "understood": "检索问题",
        "no_citations": "该回答没有引用任何段落。",
        "closest": "检索到的最相关段落：",
        "no_section": "（无章节）",
        "passage": "段落",
        "settings": "设置",
        "backend": "回答方式",
        "backend_local": "本地模型",
        "backend_openai": "OpenAI 兼容接口",
        "backend_extractive": "抽取式（直接引用段落，不用大模型）",
        "k": "检索段落数",
        "language": "界面语言",
        "thinking": "_正在检索报告…_",
        "search": "_正在检索报告…_",
        "read": "_正在阅读 {n} 段资料…_",
        "check": "_正在根据资料核对回答…_",
        "empty": "请先输入一个关于报告的问题，或点击下面的示例问题。",
        "refused": "报告中没有相关内容：未找到能回答该问题的段落，因此不作猜测。",
        "fallback": "大模型暂不可用；以下为直接引用段落的抽取式回答。",
        "notice": "提示",
        "ungrounded": "请核对这些数字，它们未出现在引用的段落中：{numbers}",
        "error": "抱歉，出错了",
        "unexpected": "抱歉，系统出现问题（{kind}），请重试。",
        "feedback_saved": "谢谢，反馈已保存。",
        "feedback_failed": "反馈未能保存：{error}",
        "reason_0": "数字有误",
        "reason_1": "出处有误",
        "reason_2": "报告中没有",
        "evaluate": "评测",
        "eval_intro": "### 评测\n用测试集（每行一个 JSON 对象：`id`、`question`、`keywords`、`evidence` 等）"
        "跑完整流程，查看哪些回答通过。抽取式回答很快；使用大模型时每个用例需要一些时间。",
        "eval_set": "内置测试集",
        "eval_upload": "……或上传测试集（.jsonl）",
        "eval_run": "开始评测",
        "eval_none": "请先选择内置测试集或上传一个测试集。",
        "eval_progress": "第 {i}/{n} 个用例",
        "eval_done": "**{n} 个用例**，准确率 **{accuracy}**，{errors} 个运行失败 · 回答方式 {backend} · {date}",
        "eval_files": "结果与报告",
        "eval_chart": "按类别和语言的准确率",
    },
}
UI_LANGS = [("English", "en"), ("中文", "zh")]
# Questions the report answers, word for word from the dev test sets, each answered correctly and cited in the
# measured runs. A question the bot declines by design is no example of what it does well.
EXAMPLES = [
    "2024年中国AI产业领域一共发生了多少起投资案例？",
    "FPGA芯片有哪些劣势？",
    "截至2024年11月底，杭州三大千亿母基金累计决策批复了多少支基金？批复规模多大？",
    "How many deals did the top five regions account for, and what share of all AI deals is that?",
    "In the report's comparison of AI chip approaches, what are the strengths of FPGAs?",
    "What are the building blocks of a humanoid robot's technical architecture in the report?",
]
# a feedback option label (either language) -> (verdict, canonical reason)
_FEEDBACK: dict[str, tuple[Verdict, str]] = {"Like": ("up", ""), "Dislike": ("down", "")} | {
    labels[f"reason_{i}"]: ("down", reason) for labels in LABELS.values() for i, reason in enumerate(REASONS)
}
# The local model answers one question at a time anyway (its own lock: two would halve each other's speed);
# a second slot lets an extractive or API answer through meanwhile. Everyone else waits in the queue.
GENERATION_SLOTS = 2
QUEUE_SIZE = 32

CSS = """
#bb-sources-panel { max-height: 70vh; overflow-y: auto; }
.bb-sources { font-size: 0.92rem; line-height: 1.55; }
.bb-empty, .bb-note { color: var(--body-text-color-subdued); padding: 0.4rem 0; }
.bb-for { font-weight: 600; margin-bottom: 0.15rem; }
.bb-meta, .bb-file { color: var(--body-text-color-subdued); font-size: 0.8rem; }
.bb-source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.6rem 0.75rem;
  margin: 0.6rem 0; background: var(--background-fill-secondary); }
.bb-head { font-weight: 600; }
.bb-n { color: var(--color-accent); margin-right: 0.25rem; }
.bb-text { white-space: pre-wrap; margin-top: 0.35rem; tab-size: 4; }
.bb-text mark { background: #fde68a; color: #1f2937; border-radius: 3px; padding: 0 1px; }
"""


@dataclass(frozen=True)
class Exchange:
    """An answer as shown in the chat, with the conversation it answered (for feedback test cases)."""

    answer: Answer
    history: tuple[Turn, ...]


Records = dict[int, Exchange]  # chat message index -> the answer shown there
Chat = list[dict[str, Any]]


def _assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}


def _conversation(records: Records) -> tuple[Turn, ...]:
    # from the answers as the bot gave them, not the displayed text with its notices
    turns: list[Turn] = []
    for index in sorted(records):
        answer = records[index].answer
        turns += [Turn("user", answer.question), Turn("assistant", answer.text)]
    return tuple(turns)


def answer_markdown(answer: Answer, requested_backend: str, labels: Mapping[str, str]) -> str:
    """The answer text followed by the notices a reader must see next to it."""
    notes = []  # (icon, text): ⚠️ when the reader should doubt something, ℹ️ when it is only how it was made
    if answer.refused:
        notes.append(("ℹ️", labels["refused"]))
    if answer.backend == "extractive" and requested_backend != "extractive":
        notes.append(("⚠️", labels["fallback"] + (f" ({answer.notice})" if answer.notice else "")))
    elif answer.notice:
        notes.append(("ℹ️", f"{labels['notice']}: {answer.notice}"))
    if answer.ungrounded_numbers:
        notes.append(("⚠️", labels["ungrounded"].format(numbers=", ".join(answer.ungrounded_numbers))))
    return "\n\n".join([answer.text, *(f"> {icon} {note}" for icon, note in notes)])


def preferred_lang(accept_language: str) -> str:
    """The UI language for an Accept-Language header: Chinese when it is preferred over English."""
    for part in accept_language.lower().split(","):
        tag = part.split(";")[0].strip()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "en"


class ChatHandlers:
    """The app's event handlers, apart from the layout so tests can call them without a browser."""

    def __init__(self, bot: StreamingBot, settings: Settings) -> None:
        self.bot = bot
        self.settings = settings

    def respond(
        self, message: str, chat: Chat, records: Records, backend: str, k: float, lang: str
    ) -> Iterator[tuple[Any, ...]]:
        """Stream one answer into the chat; yields (input box, chat, records, sources panel, shown index),
        where gr.skip() leaves a component as it is."""
        labels = LABELS[lang]
        chat = list(chat or [])
        records = dict(records or {})
        if not clean_input(message or ""):
            yield "", [*chat, _assistant(labels["empty"])], records, gr.skip(), gr.skip()
            return
        chat += [{"role": "user", "content": message}, _assistant(labels["thinking"])]
        yield "", list(chat), records, sources_html(None, labels), None
        history = _conversation(records)
        streamed, answer = "", None
        try:
            for part in self.bot.ask_stream(message, history, backend=backend, k=int(k)):
                if isinstance(part, Answer):
                    answer = part
                elif isinstance(part, Progress):
                    status = labels[part.step].format(n=part.passages)
                    chat[-1] = _assistant(f"{streamed}\n\n{status}" if streamed else status)
                    yield "", list(chat), records, gr.skip(), gr.skip()
                else:
                    streamed += part
                    chat[-1] = _assistant(streamed + " ▌")
                    yield "", list(chat), records, gr.skip(), gr.skip()
            if answer is None:
                raise RuntimeError("ask_stream ended without its Answer")
            # rendered inside the try: a bug here must also end as a chat message, not a broken event
            shown_text, panel = answer_markdown(answer, backend, labels), sources_html(answer, labels)
        except BluebotError as exc:
            chat[-1] = _assistant(f"⚠️ {labels['error']}: {exc}")
        except Exception as exc:  # noqa: BLE001 - the user gets one line; the console gets the traceback
            log.exception("answering %r failed", message)
            chat[-1] = _assistant("⚠️ " + labels["unexpected"].format(kind=type(exc).__name__))
        else:
            # the checked answer replaces the streamed draft: it may have been repaired or refused
            chat[-1] = _assistant(shown_text)
            records[len(chat) - 1] = Exchange(answer, history)
            yield "", chat, records, panel, len(chat) - 1
            return
        yield "", chat, records, sources_html(None, labels), None

    def select(self, records: Records, lang: str, evt: gr.SelectData) -> tuple[Any, Any]:
        """Show the sources of the clicked answer (or of the answer to the clicked question)."""
        index = evt.index if isinstance(evt.index, int) else evt.index[0]
        for candidate in (index, index + 1):
            if candidate in records:
                return sources_html(records[candidate].answer, LABELS[lang]), candidate
        return gr.skip(), gr.skip()

    def feedback(self, records: Records, given: dict[int, str], lang: str, evt: gr.LikeData) -> dict[int, str]:
        """Append a thumbs up/down (with the flag's reason, if one was picked) to data_dir/feedback.jsonl."""
        index = evt.index if isinstance(evt.index, int) else evt.index[0]
        choice = evt.liked if isinstance(evt.liked, str) else ("Like" if evt.liked else "Dislike")
        # Gradio's flag menu reports one click twice; a withdrawn choice ("") is not a verdict
        if index not in records or given.get(index) == choice or choice not in _FEEDBACK:
            return {**given, index: choice}
        verdict, reason = _FEEDBACK[choice]
        exchange = records[index]
        try:
            append_feedback(self.settings.data_dir, feedback_case(exchange.answer, exchange.history, verdict, reason))
        except OSError as exc:
            gr.Warning(LABELS[lang]["feedback_failed"].format(error=exc))
        else:
            gr.Info(LABELS[lang]["feedback_saved"], duration=3)
        return {**given, index: choice}

    def relabel(self, lang: str, records: Records, shown: int | None) -> tuple[Any, ...]:
        """Every label in the chosen language, in the order of build_app's `labelled` list."""
        t = LABELS[lang]
        shown_answer = records[shown].answer if shown is not None and shown in records else None
        return (
            gr.update(value=f"{t['title']}\n{t['subtitle']}"),
            gr.update(label=t["chat"], placeholder=t["placeholder"], feedback_options=feedback_options(t)),
            gr.update(label=t["input"], placeholder=t["input_placeholder"]),
            gr.update(value=t["send"]),
            gr.update(label=t["examples"]),
            gr.update(value=t["sources"]),
            sources_html(shown_answer, t),
            gr.update(label=t["settings"]),
            gr.update(label=t["backend"], choices=backend_choices(t)),
            gr.update(label=t["k"]),
            gr.update(label=t["language"]),
        )

    @staticmethod
    def browser_lang(request: gr.Request) -> str:
        return preferred_lang(request.headers.get("accept-language", "")) if request else "en"


class EvalHandlers:
    """The Evaluate tab: run a shipped or uploaded test set; evaluation.py and report.py do the work."""

    def __init__(self, bot: StreamingBot, settings: Settings, eval_dir: Path) -> None:
        self.bot = bot
        self.settings = settings
        self.eval_dir = eval_dir
        # report files live until the app exits; Gradio copies what it serves into its own cache
        self._files = tempfile.TemporaryDirectory(prefix="bluebot-eval-")

    def shipped(self) -> list[str]:
        """The dev sets to run from the app; the locked test split (test_*.jsonl) is run only to report."""
        if not self.eval_dir.is_dir():
            return []
        return sorted(p.name for p in self.eval_dir.glob("*.jsonl") if not p.name.startswith("test_"))

    def run(
        self,
        shipped: str | None,
        upload: str | None,
        backend: str,
        lang: str,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio finds its progress tracker by this default
    ) -> tuple[Any, ...]:
        """(status, summary table, failed cases, report files, chart) for one run of the chosen set."""
        labels = LABELS[lang]
        # only names from the listing: a crafted request must not read other files
        path = Path(upload) if upload else (self.eval_dir / shipped if shipped in self.shipped() else None)
        if path is None:
            return labels["eval_none"], "", "", None, None
        try:
            cases = load_cases(path)
        except BluebotError as exc:
            return f"⚠️ {labels['error']}: {exc}", "", "", None, None
        progress((0, len(cases)), desc=labels["eval_progress"].format(i=0, n=len(cases)))
        runs = []
        for i, run in enumerate(iter_eval(self.bot, cases, backend), start=1):
            runs.append(run)
            progress((i, len(cases)), desc=labels["eval_progress"].format(i=i, n=len(cases)))
        s = self.settings
        info = run_info(backend, s.embed_model, s.llm_model, [path.name], [r.record for r in runs])
        files = save_run(Path(tempfile.mkdtemp(dir=self._files.name)), info, runs)
        pairs = [(r.case, r.record) for r in runs]
        by = breakdown(pairs)
        m = by.overall
        status = labels["eval_done"].format(
            n=m.n, accuracy=f"{m.accuracy or 0:.3f}", errors=m.errors, backend=backend, date=info.date
        )
        errors = {r.case.id: r.error for r in runs if r.error}
        summary = f"{summary_table(by)}\n\n{category_table(by)}"
        downloads = [str(files.results), str(files.markdown)]
        return status, summary, failures_markdown(pairs, errors), downloads, str(files.chart)

    def relabel(self, lang: str) -> tuple[Any, ...]:
        """The Evaluate tab's labels (and both tab titles), in the order of build_app's `eval_labelled` list."""
        t = LABELS[lang]
        return (
            gr.update(label=t["chat"]),
            gr.update(label=t["evaluate"]),
            gr.update(value=t["eval_intro"]),
            gr.update(label=t["eval_set"]),
            gr.update(label=t["eval_upload"]),
            gr.update(label=t["backend"], choices=backend_choices(t)),
            gr.update(value=t["eval_run"]),
            gr.update(label=t["eval_files"]),
            gr.update(label=t["eval_chart"]),
        )


def feedback_options(labels: Mapping[str, str]) -> list[str]:
    # "Like"/"Dislike" must stay in English: Gradio draws exactly those two strings as thumbs
    return ["Like", "Dislike", *(labels[f"reason_{i}"] for i in range(len(REASONS)))]


def backend_choices(labels: Mapping[str, str]) -> list[tuple[str, str]]:
    return [(labels[f"backend_{name}"], name) for name in BACKENDS]


def build_app(bot: StreamingBot, settings: Settings, eval_dir: Path = Path("eval")) -> gr.Blocks:
    """The app: the chat tab, and the Evaluate tab over the test sets in eval_dir (relative to the working
    directory, like corpus/ and index/)."""
    h = ChatHandlers(bot, settings)
    eh = EvalHandlers(bot, settings, eval_dir)
    t = LABELS["en"]
    with gr.Blocks(title="bluebot", fill_width=True) as demo:
        records = gr.State({})
        given = gr.State({})
        shown = gr.State(None)
        with gr.Tabs(elem_id="bb-tabs"):
            with gr.Tab(t["chat"], id="chat", elem_id="bb-tab-chat") as chat_tab, gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=420):
                    with gr.Row():
                        title = gr.Markdown(f"{t['title']}\n{t['subtitle']}")
                        lang = gr.Radio(UI_LANGS, value="en", label=t["language"], scale=0, min_width=240)
                    chatbot = gr.Chatbot(
                        label=t["chat"],
                        height=500,
                        placeholder=t["placeholder"],
                        feedback_options=feedback_options(t),
                        group_consecutive_messages=False,
                        buttons=["copy"],
                        elem_id="bb-chat",
                    )
                    with gr.Row():
                        msg = gr.Textbox(
                            label=t["input"],
                            placeholder=t["input_placeholder"],
                            show_label=False,
                            scale=6,
                            max_lines=4,
                            elem_id="bb-input",
                        )
                        send = gr.Button(t["send"], variant="primary", scale=1, min_width=90, elem_id="bb-send")
                    examples = gr.Dataset(
                        components=[msg], samples=[[q] for q in EXAMPLES], label=t["examples"], elem_id="bb-examples"
                    )
                with gr.Column(scale=2, min_width=320):
                    sources_title = gr.Markdown(t["sources"])
                    sources = gr.HTML(sources_html(None, t), elem_id="bb-sources-panel")
                    with gr.Accordion(t["settings"], open=False) as settings_box:
                        backend = gr.Radio(backend_choices(t), value=settings.backend, label=t["backend"])
                        k = gr.Slider(1, 10, value=min(settings.k, 10), step=1, label=t["k"])

            with gr.Tab(t["evaluate"], id="evaluate", elem_id="bb-tab-eval") as eval_tab:
                eval_intro = gr.Markdown(t["eval_intro"])
                with gr.Row(equal_height=False):
                    shipped = eh.shipped()
                    eval_set = gr.Dropdown(
                        shipped, value=shipped[0] if shipped else None, label=t["eval_set"], elem_id="bb-eval-set"
                    )
                    eval_upload = gr.File(
                        label=t["eval_upload"], file_types=[".jsonl"], type="filepath", elem_id="bb-eval-upload"
                    )
                    with gr.Column():
                        eval_backend = gr.Radio(backend_choices(t), value=settings.backend, label=t["backend"])
                        eval_run = gr.Button(t["eval_run"], variant="primary", elem_id="bb-eval-run")
                eval_status = gr.Markdown(elem_id="bb-eval-status")
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        eval_summary = gr.Markdown(elem_id="bb-eval-summary")
                    with gr.Column(scale=2):
                        eval_chart = gr.Image(  # the chart has its own title
                            label=t["eval_chart"], type="filepath", interactive=False, show_label=False
                        )
                        eval_files = gr.File(label=t["eval_files"], interactive=False, file_count="multiple")
                eval_failures = gr.Markdown(elem_id="bb-eval-failures")
        ask_io: dict[str, Any] = {
            "inputs": [msg, chatbot, records, backend, k, lang],
            "outputs": [msg, chatbot, records, sources, shown],
            "concurrency_limit": GENERATION_SLOTS,
            "concurrency_id": "generate",
            "show_progress": "minimal",
        }
        gr.on([msg.submit, send.click], h.respond, api_name="ask", **ask_io)
        examples.click(lambda sample: sample[0], examples, msg, queue=False, api_visibility="private").then(
            h.respond, api_visibility="private", **ask_io
        )
        chatbot.select(h.select, [records, lang], [sources, shown], queue=False, api_visibility="private")
        chatbot.like(
            h.feedback,
            [records, given, lang],
            given,
            concurrency_limit=1,  # one at a time, so the duplicate report of a flag click is seen as one
            concurrency_id="feedback",
            api_visibility="private",
        )
        chatbot.clear(
            lambda lg: ({}, {}, sources_html(None, LABELS[lg]), None),
            lang,
            [records, given, sources, shown],
            queue=False,
            api_visibility="private",
        )
        labelled = [title, chatbot, msg, send, examples, sources_title, sources, settings_box, backend, k, lang]
        lang.change(h.relabel, [lang, records, shown], labelled, queue=False, api_visibility="private")
        eval_labelled = [
            chat_tab,
            eval_tab,
            eval_intro,
            eval_set,
            eval_upload,
            eval_backend,
            eval_run,
            eval_files,
            eval_chart,
        ]
        lang.change(eh.relabel, lang, eval_labelled, queue=False, api_visibility="private")
        eval_run.click(
            eh.run,
            [eval_set, eval_upload, eval_backend, lang],
            [eval_status, eval_summary, eval_failures, eval_files, eval_chart],
            concurrency_limit=1,  # one evaluation at a time; chat answers keep their own slots meanwhile
            concurrency_id="evaluate",
            api_visibility="private",
        )
        demo.load(h.browser_lang, None, lang, queue=False, api_visibility="private")
    return demo.queue(default_concurrency_limit=GENERATION_SLOTS, max_size=QUEUE_SIZE)
