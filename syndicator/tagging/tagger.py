"""Tag one story with regions and topics, and merge the tags of a cluster's members.

What it does: runs the region tagger and the topic tagger over a story's title, text,
dateline place, feed categories and link, with what the configuration adds (a source's region
prior, `[[topics]]` overrides), and merges per-story tags into per-cluster tags (the highest
score wins, with its evidence; a tag is a focus when any member has it as a focus).

What it does not do: store anything, or read anything besides the taggers' package data. The
compiled taxonomy of a set of overrides is cached per process, so worker processes compile it
once however many documents they parse.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from syndicator.models import Tag, TagKind
from syndicator.tagging.regions import load_gazetteer, regions_of
from syndicator.tagging.text import StoryText, detected_language, story_text
from syndicator.tagging.topics import (
    Taxonomy,
    TopicRule,
    builtin_rules,
    compile_taxonomy,
    default_taxonomy,
    merge_rules,
    topics_of,
)


@dataclass(frozen=True, slots=True)
class TagContext:
    """What tagging needs besides the story itself.

    `prior` is the source's region (an ISO code, weak evidence); `topic_overrides` and
    `replace_topics` are the configuration's `[[topics]]`, applied on top of the built-in
    taxonomy; `language` the source's configured language, which its stories are stored and
    read in where the feed declares none or the wrong one. The default context tags with the
    built-in data, no prior and the feed's own language.
    """

    prior: str = ""
    topic_overrides: tuple[TopicRule, ...] = ()
    replace_topics: frozenset[str] = frozenset()
    language: str = ""


_taxonomies: dict[str, Taxonomy] = {}


def taxonomy_for(context: TagContext) -> Taxonomy:
    """The compiled taxonomy of a context's overrides (compiled once per process)."""
    if not context.topic_overrides:
        return default_taxonomy()
    key = repr((context.topic_overrides, sorted(context.replace_topics)))
    taxonomy = _taxonomies.get(key)
    if taxonomy is None:
        rules = merge_rules(builtin_rules(), context.topic_overrides, context.replace_topics)
        taxonomy = _taxonomies[key] = compile_taxonomy(rules)
    return taxonomy


def tag_story(
    context: TagContext,
    title: str,
    text: str,
    *,
    place: str = "",
    categories: Sequence[str] = (),
    url: str = "",
    language: str = "",
) -> tuple[Tag, ...]:
    """Every region and topic tag of one story, regions first, each kind strongest first.
    `language`: the language its feed declares, a hint where the text is too short to tell."""
    story = story_text(title, text, place, language)  # split once, read by both taggers
    return _tags(context, story, categories, url)


def tag_story_with_language(
    context: TagContext,
    title: str,
    text: str,
    *,
    place: str = "",
    categories: Sequence[str] = (),
    url: str = "",
    language: str = "",
) -> tuple[tuple[Tag, ...], str]:
    """`tag_story`'s tags, and the story's language: `language` (its entry's or feed's) when
    given, else the one its text clearly reads as (`detected_language`), else "". The tags
    are those `tag_story` gives, whatever the text reads as."""
    story = story_text(title, text, place, language)
    return _tags(context, story, categories, url), language or detected_language(story)


def _tags(
    context: TagContext, story: StoryText, categories: Sequence[str], url: str
) -> tuple[Tag, ...]:
    regions = regions_of(load_gazetteer(), story, context.prior)
    topics = topics_of(taxonomy_for(context), story, categories=categories, url=url)
    return (*regions, *topics)


def merge_tags(members: Iterable[Sequence[Tag]]) -> tuple[Tag, ...]:
    """A cluster's tags from its members' tags: per (kind, code) the best-scored tag, marked
    focus when any member has it as a focus; ordered as `tag_story` orders them."""
    best: dict[tuple[TagKind, str], Tag] = {}
    focus: set[tuple[TagKind, str]] = set()
    for tags in members:
        for tag in tags:
            key = (tag.kind, tag.code)
            if tag.focus:
                focus.add(key)
            if key not in best or tag.score > best[key].score:
                best[key] = tag
    merged = [
        Tag(tag.kind, tag.code, tag.score, key in focus, tag.evidence) for key, tag in best.items()
    ]
    merged.sort(key=_tag_order)
    return tuple(merged)


def _tag_order(tag: Tag) -> tuple[int, int, bool, float, str]:
    is_rollup = tag.kind is TagKind.REGION and len(tag.code) != 2
    return (tag.kind is TagKind.TOPIC, is_rollup, not tag.focus, -tag.score, tag.code)
